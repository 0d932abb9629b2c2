"""The demo's record in the lab state (dcops.lab.state), usable without root too.

As root the record lives with every other lab (/run/dcops-lab, or $DCOPS_LAB_STATE_DIR), so
`dcops lab down --name dcops-demo` cleans up after a crashed demo. Without root (no namespaces,
only processes) /run is not writable: the record goes to $XDG_RUNTIME_DIR (or
~/.local/state/dcops) and `dcops demo down` cleans up.
"""
from __future__ import annotations

import os
from pathlib import Path

from dcops.lab import state as _state

if os.geteuid() != 0 and "DCOPS_LAB_STATE_DIR" not in os.environ:
    base = os.environ.get("XDG_RUNTIME_DIR") or str(Path("~/.local/state/dcops").expanduser())
    _state.STATE_DIR = Path(base) / "dcops-lab"  # the lab library reads this module global at call time

read = _state.read
edit = _state.edit
state_path = _state.state_path
