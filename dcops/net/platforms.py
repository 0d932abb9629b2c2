"""Platforms are data: `network_configs/platforms/<name>/platform.yaml` + Jinja2 templates.

platform.yaml names, per device kind, the template and whether the security
policy is rendered into it; the aerleon generator and how a local zone pair
becomes its target options; and the driver that pushes it — a NAPALM driver
(core name like ``eos``, or a module path of a third-party driver such as
``dcops.net.drivers.linux_nft``) or a Netmiko device_type with its commands.
Adding a platform adds a folder; no code changes.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from . import addrnames
from .paths import PLATFORMS_DIR


class PlatformError(ValueError):
    pass


#: what a Netmiko recipe (platform.yaml `driver:` of kind netmiko) may name in its commands, filled by
#: dcops.net.drivers.netmiko_generic from the device and the candidate:
#:   {host} {user} {timeout}       the device's address, the login user, the command timeout (s)
#:   {seconds} {minutes}           commit_confirm.arm: the revert delay (minutes rounded up, for CLIs that count so)
#:   {token} {owner} {pid} {since} this push's lock token/holder (lock recipes, candidate_file)
#:   {candidate_file}              the device-side path a recipe stages the candidate at (driver.candidate_file,
#:                                 itself a pattern of {token} {host} {user}; default /var/tmp/dcops-{token}.cfg)
#:   {line} {quoted}               line_format only: one candidate line, as is / shell-quoted
RECIPE_PLACEHOLDERS = {"host", "user", "timeout", "seconds", "minutes", "token", "owner", "pid", "since",
                       "candidate_file"}
_RECIPE_KEYS = {"session": "list", "show_running": "str", "wrap": "wrap", "line_format": "line",
                "commit_confirm": "map", "rollback": "list", "lock": "map", "candidate_file": "file"}


def recipe_strings(driver: dict):
    """(dotted key, text, allowed placeholders) for every command of a Netmiko recipe."""
    for key, shape in _RECIPE_KEYS.items():
        value = driver.get(key)
        if value is None:
            continue
        if shape == "str":
            yield key, value, RECIPE_PLACEHOLDERS
        elif shape == "file":
            yield key, value, {"token", "host", "user"}
        elif shape == "line":
            yield key, value, RECIPE_PLACEHOLDERS | {"line", "quoted"}
        elif shape == "list":
            for n, cmd in enumerate(value):
                yield f"{key}[{n}]", cmd, RECIPE_PLACEHOLDERS
        else:
            for sub, cmds in (value or {}).items():
                for n, cmd in enumerate(cmds if isinstance(cmds, list) else [cmds]):
                    yield f"{key}.{sub}" + (f"[{n}]" if isinstance(cmds, list) else ""), cmd, RECIPE_PLACEHOLDERS


def _check_recipe(driver: dict, spec_file: Path) -> None:
    for key, text, allowed in recipe_strings(driver):
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(str(text)) if f is not None}
        except ValueError as e:   # a lone { or }: literal braces are written {{ }}
            raise PlatformError(f"{spec_file}: driver.{key}: {e} (write a literal brace as {{{{ or }}}})") from e
        if used - allowed:
            raise PlatformError(f"{spec_file}: driver.{key}: unknown placeholder(s) "
                                f"{', '.join('{' + u + '}' for u in sorted(used - allowed))} "
                                f"(known: {', '.join('{' + a + '}' for a in sorted(allowed))})")


#: policy.layout → the placeholders it fills in policy.options
LAYOUTS = {"zone-pairs": {"ingress", "egress"}, "ingress-interface": {"interface", "interface_slug", "ingress"},
           "single": set()}


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
    #: how the rules are laid out: "zone-pairs" (one filter per zone pair), "ingress-interface" (one filter
    #: per interface traffic enters on) or "single" (one global chain)
    layout: str
    #: aerleon target options; {ingress}/{egress} filled per zone pair, {interface}/{interface_slug}/{ingress}
    #: per ingress interface
    options: str
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
    #: policy.address_names: how the address objects aerleon emits are renamed (dcops.net.addrnames.Rules)
    address_names: addrnames.Rules | None = None
    #: keywords: the syntax dcops.net.keywords reads the rendered configuration in (forti-cli, panos-xml, linux)
    keywords: str | None = None

    @property
    def commit_confirm(self) -> bool:
        """Can a push be reverted by the device itself (commit-confirm)?"""
        return self.driver.get("kind") == "napalm" or bool(self.driver.get("commit_confirm"))

    @property
    def unsupported(self) -> str | None:
        """Why dcops neither backs up nor pushes this platform (no driver for its API), or None."""
        return self.driver.get("unsupported")

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
            address_names=addrnames.rules_from(pol["address_names"], str(spec_file))
            if pol.get("address_names") is not None else None,
            keywords=spec.get("keywords"),
        )
    except ValueError as e:
        raise PlatformError(str(e)) from e
    except (KeyError, TypeError) as e:
        raise PlatformError(f"{spec_file}: missing or malformed key {e}") from e
    if platform.driver.get("kind") == "netmiko":
        _check_recipe(platform.driver, spec_file)
    if platform.generator and platform.layout not in LAYOUTS:
        raise PlatformError(f"{spec_file}: policy.layout must be one of {', '.join(LAYOUTS)}, not {platform.layout!r}")
    if platform.generator:
        used = {f for _, f, _, _ in string.Formatter().parse(platform.options) if f is not None}
        if used - LAYOUTS[platform.layout]:
            raise PlatformError(f"{spec_file}: policy.options: placeholder(s) "
                                f"{', '.join('{' + u + '}' for u in sorted(used - LAYOUTS[platform.layout]))} "
                                f"are not filled by layout {platform.layout} (it fills: "
                                f"{', '.join('{' + a + '}' for a in sorted(LAYOUTS[platform.layout])) or 'none'})")
    for kt in kinds.values():
        for t in (kt.template, *kt.extras.values()):
            if not (folder / t).is_file():
                raise PlatformError(f"{spec_file}: template {t} not found in {folder}")
    return platform


def available(root: Path = PLATFORMS_DIR) -> list[str]:
    return sorted(p.parent.name for p in root.glob("*/platform.yaml"))
