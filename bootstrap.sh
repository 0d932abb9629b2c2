#!/usr/bin/env bash
# Install everything dcops needs on a fresh Debian 12 machine (idempotent; quick when done).
#   ./bootstrap.sh          system packages (root) + the Python package with test extras
set -euo pipefail
cd "$(dirname "$0")"

# Real peers for the lab and the tests: SNMP agents, sshd in namespaces, nftables, a browser.
APT_PACKAGES=(iproute2 nftables openssh-server openssh-client snmpd snmp prometheus-snmp-exporter
              chromium fonts-dejavu-core procps psmisc)

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
for svc in snmpd prometheus-snmp-exporter ssh; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

PY=${PYTHON:-python3}
# Reinstall when something is missing, pyproject changed, or `dcops` resolves to another checkout.
here=$(pwd -P)
if ! "$PY" -c "import dcops, os, sys, pytest, pulumi_openstack, pysnmp, snmpsim, ansible_runner, aerleon, playwright
sys.exit(os.path.realpath(dcops.__file__).startswith('$here/') is False)" 2>/dev/null \
   || [[ pyproject.toml -nt .bootstrap-stamp ]]; then
  echo "bootstrap: installing the dcops Python package and its dependencies"
  PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --disable-pip-version-check -e '.[test]'
  touch .bootstrap-stamp
fi
echo "bootstrap: ready"
