"""dcops: one inventory of the Kiên Giang data centre driving cloud, network, monitoring and drills."""
__version__ = "0.1.0"

#: The checkout (or installed tree) and the inventory folder ($DCOPS_INVENTORY): see dcops/paths.py
from .paths import INVENTORY as DEFAULT_INVENTORY  # noqa: E402
from .paths import PROJECT_ROOT  # noqa: E402,F401


def _put_own_scripts_on_path() -> None:
    """Run from `.venv/bin/dcops` or `.venv/bin/python` without activating the venv, the tools installed
    beside the interpreter (ansible-playbook, snmpsim-command-responder …) must still be found — and
    found before any other installation's copy of them."""
    import os
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if scripts and parts[:1] != [scripts]:
        os.environ["PATH"] = os.pathsep.join([scripts, *[p for p in parts if p != scripts]])


_put_own_scripts_on_path()
