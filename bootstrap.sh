#!/usr/bin/env bash
# Install everything dcops needs on a fresh Debian 12 machine (idempotent; quick when done).
#   ./bootstrap.sh          system packages (root) + .venv with the pinned Python dependencies
# Debian's own python3 is "externally managed" (PEP 668): nothing is ever pip-installed into a system
# interpreter. The project lives in .venv; use .venv/bin/dcops and .venv/bin/python.
set -euo pipefail
cd "$(dirname "$0")"

# Real peers for the lab and the tests: SNMP agents, sshd in namespaces, nftables, a browser, the scale-out
# engines (Prometheus, Alertmanager, VictoriaMetrics), Bacula; python3-venv so Debian's interpreter can make the venv.
# sudo: the host baseline logs in as an unprivileged user and becomes root (tests/drills/test_baseline.py).
APT_PACKAGES=(iproute2 nftables openssh-server openssh-client snmpd snmp prometheus-snmp-exporter
              chromium fonts-dejavu-core procps psmisc python3-venv sudo
              prometheus prometheus-alertmanager victoria-metrics
              bacula-director bacula-director-sqlite3 bacula-sd bacula-fd bacula-console)
# Services those packages start on install: tests start their own binaries on 127.0.0.1, never these.
SERVICES=(snmpd prometheus-snmp-exporter ssh prometheus prometheus-alertmanager victoria-metrics
          prometheus-node-exporter bacula-director bacula-sd bacula-fd)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: need root to install: ${missing[*]} (run with sudo)" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian enables the agents on install; the project starts its own with its own config.
for svc in "${SERVICES[@]}"; do
  if command -v systemctl >/dev/null && systemctl is-enabled -q "$svc" 2>/dev/null; then
    systemctl disable -q --now "$svc" 2>/dev/null || systemctl stop "$svc" 2>/dev/null || true
  fi
done

VENV=.venv
if [[ ! -x $VENV/bin/python ]] || ! $VENV/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  PY=$(bash scripts/select-python.sh) || exit 1
  echo "bootstrap: creating $VENV with $PY ($("$PY" --version 2>&1))"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi

# Reinstall when the lock or pyproject changed since the last install, or the venv lost a package.
stamp=$VENV/.bootstrap-stamp
if [[ ! -f $stamp || requirements.lock -nt $stamp || pyproject.toml -nt $stamp ]] \
   || ! $VENV/bin/python -c "import dcops, pytest, pulumi_openstack, pysnmp, snmpsim, ansible_runner, aerleon, playwright" 2>/dev/null; then
  echo "bootstrap: installing the pinned dependencies (requirements.lock) into $VENV"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  $VENV/bin/python -m pip install -q --require-hashes --no-deps -r requirements.lock
  $VENV/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  touch "$stamp"
fi
echo "bootstrap: ready ($VENV/bin/dcops, $VENV/bin/python)"
