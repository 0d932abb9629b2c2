import os
import secrets
import subprocess

import pytest

from dcops.model import load_inventory


def _can_lab() -> bool:
    return os.geteuid() == 0 and os.path.exists("/usr/sbin/sshd")


@pytest.fixture(scope="session")
def inv():
    return load_inventory()


@pytest.fixture
def lab_prefix():
    """A unique namespace prefix; afterwards no namespace or process of it may be left."""
    if not _can_lab():
        pytest.skip("needs root and OpenSSH server (network namespaces)")
    prefix = f"dcd{secrets.token_hex(2)}-"
    yield prefix
    left = [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
            if n.startswith(prefix)]
    for n in left:
        subprocess.run(["ip", "netns", "del", n], check=False)
    assert not left, f"namespaces left behind: {left}"


@pytest.fixture
def report_dir(tmp_path):
    return tmp_path / "records"
