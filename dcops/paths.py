"""Where every data folder lives — stated once, for the validator and every consumer.

Each folder can be moved with an environment variable, so a reviewer or a test can run the whole
tool chain over a private copy of the data (an extension tried out before it is committed):

    DCOPS_INVENTORY        inventory/         the source of truth
    DCOPS_MONITORS         monitors/          SNMP profiles, alert rules, labels, simulator data
    DCOPS_NETWORK_CONFIGS  network_configs/   platforms, policy, golden renders, lab settings
    DCOPS_PLAYBOOKS        playbooks/         Ansible playbooks and roles

The names are read when dcops is imported (a CLI run, a subprocess); code that must follow a change of
the environment inside one process calls the functions (`inventory()`, `monitors()` …) instead."""
from __future__ import annotations

import os
from pathlib import Path

#: The checkout (or installed tree) that holds inventory/, monitors/, network_configs/, playbooks/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

ENV = {"inventory": "DCOPS_INVENTORY", "monitors": "DCOPS_MONITORS",
       "network_configs": "DCOPS_NETWORK_CONFIGS", "playbooks": "DCOPS_PLAYBOOKS"}


def folder(name: str) -> Path:
    """inventory | monitors | network_configs | playbooks, as the environment says now."""
    value = os.environ.get(ENV[name])
    return Path(value).expanduser() if value else PROJECT_ROOT / name


_folder = folder


def inventory() -> Path:
    return _folder("inventory")


def monitors() -> Path:
    return _folder("monitors")


def network_configs() -> Path:
    return _folder("network_configs")


def playbooks() -> Path:
    return _folder("playbooks")


def profiles(monitors_dir: Path | None = None) -> Path:
    """SNMP device profiles (one YAML per model), of the environment's monitors/ or of `monitors_dir`."""
    return Path(monitors_dir or monitors()) / "profiles"


def alerts_file(monitors_dir: Path | None = None) -> Path:
    return Path(monitors_dir or monitors()) / "alerts.yaml"


def states_file(monitors_dir: Path | None = None) -> Path:
    """The state vocabulary enum metrics map into (profiles) and alert rules name."""
    return Path(monitors_dir or monitors()) / "states.yaml"


def definitions(policy_dir: Path | None = None) -> Path:
    """Named address and service objects of the security policy."""
    return Path(policy_dir or policy()) / "definitions"


def platforms() -> Path:
    """Network platforms (one folder per vendor OS: platform.yaml + templates)."""
    return network_configs() / "platforms"


def policy() -> Path:
    return network_configs() / "policy"


INVENTORY = inventory()
MONITORS = monitors()
NETWORK_CONFIGS = network_configs()
PLAYBOOKS = playbooks()
PROFILES = MONITORS / "profiles"
ALERTS_FILE = MONITORS / "alerts.yaml"
STATES_FILE = MONITORS / "states.yaml"
LABELS_FILE = MONITORS / "labels.yaml"
PLAUSIBLE_FILE = MONITORS / "plausible.yaml"
SIM_DIR = MONITORS / "sim"
PLATFORMS = NETWORK_CONFIGS / "platforms"
POLICY = NETWORK_CONFIGS / "policy"
DEFINITIONS = POLICY / "definitions"
GOLDEN = NETWORK_CONFIGS / "golden"
NETWORK_LAB_FILE = NETWORK_CONFIGS / "lab.yaml"
CLOUD_POLICY = PROJECT_ROOT / "infra" / "cloud_policy.yaml"
#: the DR site's inventory (site.role: dr): its monitored devices, read by monitoring only (docs/scaleout.md)
DR_INVENTORY = PROJECT_ROOT / "inventory-dr"


def as_env() -> dict[str, str]:
    """The variables that point a child process (a playbook's guard plugin, a subprocess) at the same data."""
    return {var: str(_folder(name)) for name, var in ENV.items()}
