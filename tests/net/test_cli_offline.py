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


SHADOWED = """
  - header:
      comment: a deny that the accept above it hides
      zones: {from: app, to: db}
    terms:
      - name: never-fires
        destination-port: POSTGRES
        protocol: tcp
        action: deny
"""


def _bad_configs(tmp_path):
    """A copy of network_configs/ whose policy has a shadowed deny (a lint error)."""
    import shutil
    from dcops.net.paths import NETWORK_CONFIGS
    nc = tmp_path / "network_configs"
    shutil.copytree(NETWORK_CONFIGS, nc)
    pol = nc / "policy" / "datacenter.yaml"
    text = pol.read_text()
    cut = text.index("  - header:\n      comment: Mặc định từ chối")
    pol.write_text(text[:cut] + SHADOWED.lstrip("\n") + "\n" + text[cut:])
    return {**os.environ, "DCOPS_NETWORK_CONFIGS": str(nc)}


def test_render_and_push_refuse_on_lint_errors(tmp_path):
    """Issue 15 §3: a shadowed deny no longer renders with exit 0; --no-lint is the explicit way through."""
    env = _bad_configs(tmp_path)
    out = tmp_path / "out"
    proc = _cli("render", "--out", str(out), env=env)
    assert proc.returncode == 1, proc.stdout
    assert "render refused: the policy has 1 lint error(s)" in " ".join(proc.stderr.split())
    assert "datacenter.yaml:" in proc.stderr and "'never-fires' is shadowed" in proc.stderr
    assert not out.exists()
    proc = _cli("render", "--out", str(out), "--no-lint", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "--no-lint" in proc.stderr and (out / "kg-fw-01.conf").is_file()
    # push: refused before any secret is looked up or any device contacted
    env.pop("DCOPS_NET_SSH_KEY", None)
    proc = _cli("push", "--backups", str(tmp_path / "b"), env=env)
    assert proc.returncode == 1 and "push refused" in proc.stderr and "is not set" not in proc.stderr
    proc = _cli("push", "--backups", str(tmp_path / "b"), "--no-lint", "--json", env=env)
    assert "push refused" not in proc.stderr and "--no-lint" in proc.stderr
    assert json.loads(proc.stdout)["lint"] == "skipped (--no-lint) with 1 error(s)"   # recorded in the report


def test_unmeetable_confirm_timeout_is_refused_up_front(tmp_path):
    proc = _cli("push", "--commit", "--confirm-timeout", "20", "--backups", str(tmp_path))  # 5 + 3 × 8 > 20
    assert proc.returncode == 1
    assert "confirm timeout 20 s cannot be met" in " ".join(proc.stderr.split())
    proc = _cli("push", "--commit", "--confirm-timeout", "20", "--connect-timeout", "3", "--command-timeout", "5",
                "--backups", str(tmp_path), env={k: v for k, v in os.environ.items() if k != "DCOPS_NET_SSH_KEY"})
    assert "cannot be met" not in proc.stderr and "DCOPS_NET_SSH_KEY is not set" in proc.stderr
