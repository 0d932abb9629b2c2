"""Where the network pipeline's data lives (all under network_configs/)."""
from __future__ import annotations

import os
from pathlib import Path

from dcops import PROJECT_ROOT

NETWORK_CONFIGS = Path(os.environ.get("DCOPS_NETWORK_CONFIGS", PROJECT_ROOT / "network_configs"))
PLATFORMS_DIR = NETWORK_CONFIGS / "platforms"
POLICY_DIR = NETWORK_CONFIGS / "policy"
DEFINITIONS_DIR = POLICY_DIR / "definitions"
GOLDEN_DIR = NETWORK_CONFIGS / "golden"
LAB_FILE = NETWORK_CONFIGS / "lab.yaml"
