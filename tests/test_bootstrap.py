"""bootstrap.sh picks an interpreter that can make the virtualenv, Debian's PEP 668 one included."""
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SELECT = ROOT / "scripts" / "select-python.sh"
DEBIAN = Path("/usr/bin/python3")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _select(path: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", str(SELECT)], capture_output=True, text=True, timeout=60,
                          env={"PATH": path, "HOME": os.environ.get("HOME", "/root"), **env})


def _externally_managed(python: Path) -> bool:
    stdlib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True).stdout.strip()
    return bool(stdlib) and (Path(stdlib) / "EXTERNALLY-MANAGED").exists()


def _fake(bin_dir: Path, name: str, body: str) -> None:
    p = bin_dir / name
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)


def test_too_old_and_venv_less_interpreters_are_skipped_with_the_reason(tmp_path):
    _fake(tmp_path, "python3.13", "exit 1")  # answers no version check: "older"
    real = sys.executable
    # imports everything except ensurepip, like Debian's python3 without python3-venv
    _fake(tmp_path, "python3.12", f'case "$2" in *ensurepip*) exit 1;; esac; exec {real} "$@"')
    proc = _select(str(tmp_path))
    assert proc.returncode == 1
    assert f"{tmp_path}/python3.13: older than 3.11" in proc.stderr
    assert f"{tmp_path}/python3.12: no venv/ensurepip (Debian: apt-get install python3-venv)" in proc.stderr
    _fake(tmp_path, "python3.11", f'exec {real} "$@"')
    assert _select(str(tmp_path)).stdout.strip() == f"{tmp_path}/python3.11"


def test_explicit_python_wins(tmp_path):
    proc = _select(SYSTEM_PATH + ":" + str(Path(sys.executable).parent), PYTHON=sys.executable)
    assert proc.stdout.strip() == sys.executable


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN.exists() or not _externally_managed(DEBIAN), reason="no PEP 668 system Python")
def test_debian_pep668_python_is_chosen_and_makes_a_working_venv(tmp_path):
    proc = _select(SYSTEM_PATH)
    chosen = Path(proc.stdout.strip())
    assert proc.returncode == 0 and chosen.resolve().parent == Path("/usr/bin"), proc.stderr
    # the system interpreter refuses pip (that is what PEP 668 means) …
    refused = subprocess.run([str(chosen), "-m", "pip", "install", "--no-index", "nothing-at-all"],
                             capture_output=True, text=True, env={"PATH": SYSTEM_PATH})
    assert refused.returncode != 0 and "externally-managed-environment" in (refused.stdout + refused.stderr)
    # … and the venv it makes takes an install, as bootstrap.sh does with the project
    subprocess.run([str(chosen), "-m", "venv", str(tmp_path / "venv")], check=True, timeout=300)
    wheel = tmp_path / "hello_pep668-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:  # the smallest valid wheel: no build step, no index
        z.writestr("hello_pep668/__init__.py", "OK = True\n")
        z.writestr("hello_pep668-1.dist-info/METADATA", "Metadata-Version: 2.1\nName: hello-pep668\nVersion: 1\n")
        z.writestr("hello_pep668-1.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                                      "Tag: py3-none-any\n")
        z.writestr("hello_pep668-1.dist-info/RECORD", "")
    vpy = tmp_path / "venv" / "bin" / "python"
    subprocess.run([str(vpy), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
                   check=True, timeout=300, env={"PATH": SYSTEM_PATH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert subprocess.run([str(vpy), "-c", "import hello_pep668; assert hello_pep668.OK"]).returncode == 0
