"""Platform → driver class, from the platform's data (platform.yaml `driver:`).

    driver: {kind: napalm, name: eos}                         NAPALM core / community driver by name
    driver: {kind: napalm, name: dcops.net.drivers.linux_nft} third-party driver module (NAPALM convention:
                                                              the module's NetworkDriver subclass)
    driver: {kind: netmiko, device_type: fortinet, ...}       Netmiko adapter with the platform's commands
"""
from __future__ import annotations

import functools
import importlib
import inspect

from napalm.base import NetworkDriver

from ..platforms import Platform


class DriverUnavailable(RuntimeError):
    pass


def driver_class(platform: Platform):
    spec = platform.driver
    kind = spec.get("kind")
    if kind == "napalm":
        name = spec["name"]
        if "." in name and not name.startswith("napalm."):
            try:
                module = importlib.import_module(name)
            except ImportError as e:
                raise DriverUnavailable(f"platform {platform.name}: cannot import driver module {name}: {e}") from e
            for _, obj in inspect.getmembers(module, inspect.isclass):
                if issubclass(obj, NetworkDriver) and obj is not NetworkDriver and obj.__module__ == module.__name__:
                    return obj
            raise DriverUnavailable(f"platform {platform.name}: {name} has no NetworkDriver subclass")
        from napalm import get_network_driver
        from napalm.base.exceptions import ModuleImportError
        try:
            return get_network_driver(name)
        except ModuleImportError as e:
            raise DriverUnavailable(
                f"platform {platform.name}: NAPALM driver '{name}' is not installed (pip install napalm-{name})"
            ) from e
    if kind == "netmiko":
        from .netmiko_generic import NetmikoDriver
        return functools.partial(NetmikoDriver, platform_spec=spec)
    raise DriverUnavailable(f"platform {platform.name}: unknown driver kind {kind!r} (napalm or netmiko)")
