#!/usr/bin/env bash
# Check that pyproject.toml's lower bounds are true: resolve every direct dependency at its lowest allowed
# version (uv --resolution lowest-direct, Python 3.11; transitive dependencies at their newest), install that
# set into a SEPARATE virtualenv (never .venv), install dcops into it (--no-deps, editable like bootstrap.sh),
# then run the quick tier, `dcops validate` and `dcops plan --json -` (the Pulumi program under mocks) there.
# Prints pass/fail per step and the failures; exit 0 only when every step passed.
#
#   scripts/check-floor.sh                       # full check (quick tier)
#   scripts/check-floor.sh -- tests/model -x     # other pytest arguments (bisecting one failure)
#
# Environment: FLOOR_VENV (default /tmp/dcops-floor), PYTHON (default python3.11: 3.11 is the floor),
# UV (default .venv/bin/uv, else uv on PATH), FLOOR_REUSE=1 keeps the venv when the floor set is unchanged.
# Installs need network access to PyPI. Run it with `nice` on a shared machine: the quick tier takes minutes.
# Shared machine with lab runs: tests/conftest.py deletes test-named namespaces that appear during a session,
# other runs' too; give this run its own view of them:
#   unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run/netns && exec scripts/check-floor.sh'
set -uo pipefail
# The whole run is one function: bash parses it before running, so editing this file mid-run is safe.
main() {
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${FLOOR_VENV:-/tmp/dcops-floor}
PYTHON=${PYTHON:-python3.11}
UV=${UV:-}
if [[ -z $UV ]]; then
  if [[ -x .venv/bin/uv ]]; then UV=.venv/bin/uv; else UV=$(command -v uv) || true; fi
fi
[[ -n $UV && -x $UV ]] || { echo "check-floor: uv not found (pip install uv, or set UV=/path/to/uv)" >&2; exit 2; }
case $VENV in "$ROOT/.venv"|"$ROOT/.venv/") echo "check-floor: refusing to use the project's .venv" >&2; exit 2;; esac
# It is removed and rebuilt: only ever a virtualenv (or nothing yet).
if [[ -e $VENV && ! -f $VENV/pyvenv.cfg ]]; then echo "check-floor: $VENV exists and is not a virtualenv" >&2; exit 2; fi

pytest_args=(-m "not lab" -q -p no:cacheprovider)
if [[ ${1:-} == -- ]]; then shift; pytest_args=(-q -p no:cacheprovider "$@"); fi

start=$(date +%s)
LOGS=$VENV.logs
mkdir -p "$LOGS"
floor=$LOGS/floor.txt

step() { printf '%-10s %s\n' "$1" "$2"; }

# 1. Resolve. A floor that cannot be resolved (conflicting lower bounds) is a failure by itself.
if ! "$UV" pip compile pyproject.toml --extra test --resolution lowest-direct --python-version 3.11 \
     --no-header --no-annotate -q -o "$floor.new" 2>"$LOGS/resolve.log"; then
  step resolve FAIL; cat "$LOGS/resolve.log"; exit 1
fi
step resolve "ok ($(grep -c '==' "$floor.new") packages; direct floors below)"

# 2. Install into a fresh venv (or reuse it when the set is unchanged and FLOOR_REUSE=1).
if [[ ${FLOOR_REUSE:-0} == 1 && -x $VENV/bin/python ]] && cmp -s "$floor.new" "$floor"; then
  step install "reused $VENV"
else
  rm -rf "$VENV"
  if ! { "$UV" venv -q --python "$PYTHON" "$VENV" &&
         "$UV" pip install -q --python "$VENV/bin/python" -r "$floor.new" &&
         "$UV" pip install -q --python "$VENV/bin/python" --no-deps -e "$ROOT"; } >"$LOGS/install.log" 2>&1; then
    step install FAIL; tail -40 "$LOGS/install.log"; rm -f "$floor"; exit 1
  fi
  step install "ok ($("$VENV/bin/python" -V))"
fi
mv -f "$floor.new" "$floor"

# The direct dependencies as installed, so the report says which floors were exercised. One the resolver had to
# lift above its bound (another dependency needs more) is named: that bound is not verified, raise it.
"$VENV/bin/python" - <<'PY'
import re, textwrap, tomllib
from importlib.metadata import version
from packaging.version import Version
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
got, lifted = [], []
for req in p["dependencies"] + p["optional-dependencies"]["test"]:
    name, floor = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^]]*\])?\s*(?:>=\s*([^,;\s]+))?", req).groups()
    v = version(name)
    got.append(f"{name}=={v}")
    if floor and Version(v) != Version(floor):
        lifted.append(f"{name}>={floor} resolved to {v}")
print(textwrap.fill(" ".join(got), 110, initial_indent="  floors: ", subsequent_indent="    "))
for x in lifted:
    print(f"  NOT AT ITS FLOOR: {x}")
PY

# 3. Run with the floor venv first on PATH: subprocesses (dcops, ansible-playbook, ansible-lint …) use it too.
export PATH=$VENV/bin:$PATH VIRTUAL_ENV=$VENV
unset PYTHONPATH
failed=0
"$VENV/bin/python" -m pytest "${pytest_args[@]}" >"$LOGS/pytest.log" 2>&1; rc=$?
summary=$(grep -aE '(passed|failed|errors?|no tests ran).* in [0-9.]+s' "$LOGS/pytest.log" | tail -1)
if [[ $rc == 0 ]]; then step pytest "ok: $summary"
else
  failed=1; step pytest "FAIL (exit $rc): ${summary:-no summary, see $LOGS/pytest.log}"
  grep -aE '^(FAILED|ERROR) ' "$LOGS/pytest.log" | cut -c1-220 | sed 's/^/  /'
  grep -qaE '^(FAILED|ERROR) ' "$LOGS/pytest.log" || tail -30 "$LOGS/pytest.log"
fi
for cmd in "validate" "plan --json -"; do
  log=$LOGS/${cmd%% *}.log
  # shellcheck disable=SC2086
  if "$VENV/bin/dcops" $cmd >"$log" 2>&1; then step "${cmd%% *}" ok
  else failed=1; step "${cmd%% *}" "FAIL: dcops $cmd"; tail -20 "$log" | sed 's/^/  /'; fi
done
echo "wall time $(( $(date +%s) - start )) s; logs in $LOGS"
[[ $failed == 0 ]] && echo "FLOOR OK" || echo "FLOOR FAILED"
exit $failed
}
main "$@"; exit
