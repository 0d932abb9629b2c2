#!/usr/bin/env bash
# Print the first Python >= 3.11 that can create a virtualenv: $PYTHON if set, else python3.13 … python3
# on PATH. A PEP 668 "externally managed" interpreter (Debian's /usr/bin/python3) is fine: only the
# venv is ever installed into. Exit 1 with the reason when none qualifies.
set -uo pipefail
candidates=()
[[ -n ${PYTHON:-} ]] && candidates+=("$PYTHON")
candidates+=(python3.13 python3.12 python3.11 python3)
reasons=()
for c in "${candidates[@]}"; do
  path=$(command -v "$c" 2>/dev/null) || continue
  if ! "$path" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    reasons+=("$path: older than 3.11"); continue
  fi
  if ! "$path" -c 'import venv, ensurepip' 2>/dev/null; then
    reasons+=("$path: no venv/ensurepip (Debian: apt-get install python3-venv)"); continue
  fi
  echo "$path"
  exit 0
done
echo "bootstrap: no Python >= 3.11 able to create a virtualenv" >&2
for r in "${reasons[@]}"; do echo "  $r" >&2; done
exit 1
