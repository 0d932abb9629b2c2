"""Platforms are data: `network_configs/platforms/<name>/platform.yaml` + Jinja2 templates.

platform.yaml names, per device kind, the template and whether the security
policy is rendered into it; the aerleon generator and how a local zone pair
becomes its target options; and the driver that pushes it — a NAPALM driver
(core name like ``eos``, or a module path of a third-party driver such as
``dcops.net.drivers.linux_nft``) or a Netmiko device_type with its commands.
Adding a platform adds a folder; no code changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from .paths import PLATFORMS_DIR


class PlatformError(ValueError):
    pass


@dataclass(frozen=True)
class KindTemplate:
    template: str
    policy: bool
    extras: dict[str, str]  # output suffix → template


@dataclass(frozen=True)
class Platform:
    name: str
    folder: Path
    description: str
    extension: str
    kinds: dict[str, KindTemplate]
    generator: str | None
    layout: str                   # "zone-pairs" or "single"
    options: str                  # aerleon target options; {ingress}/{egress} filled per zone pair
    default_deny_options: str | None
    driver: dict[str, Any]
    lab_capable: bool
    logging_options: tuple[str, ...] = ()   # aerleon term options a logged term needs on this platform
    #: how a zone-pair term is tied to its zones when the target has no zones of its own:
    #: "interfaces" = the term matches the device's interfaces in its ingress/egress zones (nftables)
    zone_match: str | None = None
    data: dict[str, Any] = field(default_factory=dict)  # platform.yaml `data:` — vendor settings for templates
    #: policy.postprocess: how aerleon's output is reshaped for the template — a name registered in
    #: dcops.net.render.POSTPROCESSORS or "package.module:function" (text, inventory) -> text
    postprocess: str | None = None

    @property
    def commit_confirm(self) -> bool:
        """Can a push be reverted by the device itself (commit-confirm)?"""
        return self.driver.get("kind") == "napalm" or bool(self.driver.get("commit_confirm"))

    @property
    def unsupported(self) -> str | None:
        """Why dcops neither backs up nor pushes this platform (no driver for its API), or None."""
        return self.driver.get("unsupported")

    @property
    def lock_missing(self) -> str | None:
        """Why a Netmiko platform's devices cannot be locked (`lock: none` + `lock_reason`), or None."""
        if self.driver.get("kind") != "netmiko" or isinstance(self.driver.get("lock"), dict):
            return None
        return self.driver.get("lock_reason")

    def for_kind(self, kind: str) -> KindTemplate:
        if kind in self.kinds:
            return self.kinds[kind]
        if "default" in self.kinds:
            return self.kinds["default"]
        raise PlatformError(f"platform {self.name} has no template for device kind '{kind}' "
                            f"(add it under templates: in {self.folder / 'platform.yaml'})")


@lru_cache(maxsize=None)
def load(name: str, root: Path = PLATFORMS_DIR) -> Platform:
    folder = root / name
    spec_file = folder / "platform.yaml"
    if not spec_file.is_file():
        raise PlatformError(f"unknown platform '{name}': {spec_file} not found")
    spec = YAML(typ="safe").load(spec_file.read_text(encoding="utf-8")) or {}
    try:
        kinds = {
            k: KindTemplate(v["template"], bool(v.get("policy", False)), dict(v.get("extras") or {}))
            for k, v in spec["templates"].items()
        }
        pol = spec.get("policy") or {}
        platform = Platform(
            name=name, folder=folder, description=spec.get("description", name),
            extension=spec["extension"], kinds=kinds, generator=pol.get("generator"),
            layout=pol.get("layout", "single"), options=pol.get("options", ""),
            default_deny_options=pol.get("default_deny_options"),
            driver=dict(spec["driver"]), lab_capable=bool(spec.get("lab_capable", False)),
            logging_options=tuple(pol.get("logging_options") or ()),
            zone_match=pol.get("zone_match"),
            data=dict(spec.get("data") or {}),
            postprocess=pol.get("postprocess"),
        )
    except (KeyError, TypeError) as e:
        raise PlatformError(f"{spec_file}: missing or malformed key {e}") from e
    _check_lock(spec_file, platform.driver)
    for kt in kinds.values():
        for t in (kt.template, *kt.extras.values()):
            if not (folder / t).is_file():
                raise PlatformError(f"{spec_file}: template {t} not found in {folder}")
    return platform


LOCK_VERBS = ("acquire", "release", "show", "break")


def _check_lock(spec_file: Path, driver: dict[str, Any]) -> None:
    """A Netmiko platform says how its devices are locked: a recipe, or `lock: none` with the reason."""
    if driver.get("kind") != "netmiko":
        return
    lock = driver.get("lock")
    if isinstance(lock, dict):
        missing = [v for v in LOCK_VERBS if not lock.get(v)]
        if missing:
            raise PlatformError(f"{spec_file}: driver.lock lacks {', '.join(missing)} (a recipe needs "
                                f"{', '.join(LOCK_VERBS)})")
    elif lock == "none":
        if not str(driver.get("lock_reason") or "").strip():
            raise PlatformError(f"{spec_file}: driver.lock is none without driver.lock_reason (say which vendor "
                                "reference has no lock)")
    else:
        raise PlatformError(f"{spec_file}: a netmiko driver needs `lock:` — a recipe ({', '.join(LOCK_VERBS)}) "
                            "or `none` with `lock_reason`")


def available(root: Path = PLATFORMS_DIR) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/platform.yaml"))
