"""Fixtures shared by several test areas."""
import secrets

import pytest

from dcops.lab import Lab, can_run


@pytest.fixture
def lab():
    """A throwaway namespace lab (prefix dcn + random), removed by PID and name whatever the outcome."""
    if not can_run():
        pytest.skip("needs root, network namespaces and OpenSSH server")
    lb = Lab(f"dcn{secrets.token_hex(2)}-")
    try:
        yield lb
    finally:
        lb.down()
