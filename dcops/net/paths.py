"""Where the network pipeline's data lives (all under network_configs/, $DCOPS_NETWORK_CONFIGS).
The names are stated once in dcops/paths.py; kept here for the modules that import them from net."""
from __future__ import annotations

from dcops.paths import DEFINITIONS as DEFINITIONS_DIR  # noqa: F401
from dcops.paths import GOLDEN as GOLDEN_DIR  # noqa: F401
from dcops.paths import NETWORK_CONFIGS  # noqa: F401
from dcops.paths import NETWORK_LAB_FILE as LAB_FILE  # noqa: F401
from dcops.paths import PLATFORMS as PLATFORMS_DIR  # noqa: F401
from dcops.paths import POLICY as POLICY_DIR  # noqa: F401
