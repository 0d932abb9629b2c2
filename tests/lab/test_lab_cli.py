"""`dcops lab up|status|down` end to end, and `down` cleaning up after a crashed `up`."""
import json
import secrets
import subprocess
import sys

import pytest

from dcops.lab import can_run, procs, state
from dcops.lab.netns import list_namespaces

pytestmark = pytest.mark.lab


def _lab(*args):
    return subprocess.run([sys.executable, "-m", "dcops.cli", "lab", *args], capture_output=True, text=True, timeout=180)


def test_up_status_down():
    if not can_run():
        pytest.skip("needs root")
    name = f"dcn{secrets.token_hex(2)}"
    try:
        proc = _lab("up", "--name", name, "--json")
        assert proc.returncode == 0, proc.stderr
        st = json.loads(proc.stdout)
        names = {n["name"] for n in st["namespaces"]}
        assert {f"{name}-{h}" for h in ("fw1", "dmz", "app", "db", "mgmt", "wan", "lb", "isp1", "isp2", "inet")} <= names
        assert all(p["alive"] for p in st["processes"])
        assert set(st["meta"]["endpoints"]) == {"lab-fw1", "kg-lb-01"}
        proc = _lab("status", "--name", name)
        assert proc.returncode == 0 and f"{name}-fw1" in proc.stdout
        # `up` again over a running lab: leftovers are removed first, then rebuilt
        pids = [p["pid"] for p in st["processes"]]
        proc = _lab("up", "--name", name, "--json")
        assert proc.returncode == 0, proc.stderr
        assert not any(procs.alive(p) for p in pids)
    finally:
        proc = _lab("down", "--name", name)
    assert proc.returncode == 0
    assert not [n for n in list_namespaces() if n.startswith(f"{name}-")]
    assert name not in state.labs()
