"""CLI behaviour that needs no lab: render, errors, and production pushes refusing to run without secrets."""
import json
import os
import subprocess
import sys


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "dcops.cli", "net", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_render_json_and_atomic_output(tmp_path):
    proc = _cli("render", "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    files = {f for d in json.loads(proc.stdout) for f in d["files"]}
    assert str(tmp_path / "kg-fw-01.conf") in files and str(tmp_path / "lab-fw1.nft") in files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_render_check_against_golden():
    proc = _cli("render", "--check")
    assert proc.returncode == 0, proc.stderr


def test_unknown_device_is_one_line_error(tmp_path):
    proc = _cli("render", "--out", str(tmp_path), "--device", "kg-nope")
    assert proc.returncode == 1 and "unknown device(s): kg-nope" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_production_push_without_key_refuses_before_connecting(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"}
    proc = _cli("push", "--backups", str(tmp_path), env=env)
    assert proc.returncode == 1
    assert "DCOPS_NET_SSH_KEY is not set" in proc.stderr
    assert list(tmp_path.iterdir()) == []
