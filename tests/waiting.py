"""Polling helpers shared by tests that wait for real engines and labs."""
from __future__ import annotations

import time


def wait_for(pred, timeout: float, what: str, every: float = 0.25):
    """`pred()`'s first truthy answer within `timeout` seconds, or an AssertionError naming `what`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")
