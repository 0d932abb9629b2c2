"""dcops: one inventory of the Kiên Giang data centre driving cloud, network, monitoring and drills."""
from pathlib import Path

__version__ = "0.1.0"

#: The checkout (or installed tree) that holds inventory/, monitors/, network_configs/, playbooks/.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INVENTORY = PROJECT_ROOT / "inventory"
