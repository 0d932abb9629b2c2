"""How to reach a device: production (inventory mgmt_ip + key reference) or a lab stand-in."""
from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass, field

from dcops.model import NetworkDevice

from . import platforms
from .drivers.registry import driver_class

SECRET_PLACEHOLDER = re.compile(r"\$\{secret:([^}]+)\}")


class SecretUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Endpoint:
    host: str
    username: str
    port: int = 22
    key_file: str | None = None
    password: str | None = None
    netns: str | None = None
    host_key_check: bool = True
    extra: dict = field(default_factory=dict)


def resolve_ref(ref: str) -> str:
    """The value behind a secret reference; only env: can be resolved on an operator's machine."""
    if ref.startswith("env:"):
        var = ref[4:]
        if var not in os.environ:
            raise SecretUnavailable(f"secret {ref}: environment variable {var} is not set")
        return os.environ[var]
    raise SecretUnavailable(f"secret {ref}: only env: references can be resolved by dcops net (export it first)")


def resolve_placeholders(text: str) -> str:
    """Replace every ${secret:REF} of a rendered config; fails before anything is sent."""
    missing = []

    def sub(m: re.Match) -> str:
        try:
            return resolve_ref(m.group(1))
        except SecretUnavailable as e:
            missing.append(str(e))
            return m.group(0)

    out = SECRET_PLACEHOLDER.sub(sub, text)
    if missing:
        raise SecretUnavailable("; ".join(sorted(set(missing))))
    return out


def redactor(text: str):
    """A function that puts the placeholders of `text` back wherever their resolved values appear.

    Device diffs compare running config with the *resolved* candidate; what is printed, stored
    in reports or sent to CI logs must show ``${secret:REF}`` instead of the value.
    """
    pairs = {}
    for m in SECRET_PLACEHOLDER.finditer(text):
        try:
            value = resolve_ref(m.group(1))
        except SecretUnavailable:
            continue
        if len(value.strip()) >= 4:  # shorter values would mangle ordinary text
            pairs[value.strip()] = m.group(0)

    def redact(s: str) -> str:
        for value in sorted(pairs, key=len, reverse=True):
            s = s.replace(value, pairs[value])
        return s
    return redact


def production_endpoint(dev: NetworkDevice) -> Endpoint:
    spec = platforms.load(dev.platform).driver if dev.platform else {}
    if spec.get("token_ref"):  # a vendor API: the token goes in the request, no SSH key
        port = int((spec.get("optional_args") or {}).get("port", 443))
        return Endpoint(str(dev.mgmt_ip), dev.admin_user, port=port, password=resolve_ref(spec["token_ref"]))
    value = resolve_ref(dev.admin_key_ref)
    if os.path.isfile(value):
        key_file = value
    else:  # the variable holds the key itself: give paramiko a private 0600 file
        fd, key_file = tempfile.mkstemp(prefix="dcops-key-")
        with os.fdopen(fd, "w") as f:
            f.write(value if value.endswith("\n") else value + "\n")
        os.chmod(key_file, stat.S_IRUSR | stat.S_IWUSR)
    return Endpoint(str(dev.mgmt_ip), dev.admin_user, key_file=key_file)


def lab_endpoints(lab_name: str) -> dict[str, Endpoint]:
    from dcops.lab import state
    meta = state.read(lab_name)["meta"]
    return {name: Endpoint(e["host"], e["username"], int(e["port"]), e["key_file"], None, e.get("netns"),
                           host_key_check=False)
            for name, e in meta.get("endpoints", {}).items()}


def make_driver(platform_name: str, ep: Endpoint, timeout: float = 10, *, command_timeout: float | None = None,
                lock_token: str | None = None):
    """A driver for the device; `timeout` is the connect timeout, `command_timeout` each command's,
    `lock_token` makes several sessions of one operation share the device's lock."""
    plat = platforms.load(platform_name)
    cls = driver_class(plat)
    args = dict(plat.driver.get("optional_args") or {})
    args.update({"port": ep.port, "host_key_check": ep.host_key_check})
    if ep.key_file:
        args["key_file"] = ep.key_file
    if ep.netns:
        args["netns"] = ep.netns
    if command_timeout is not None:
        args["command_timeout"] = command_timeout
    if lock_token:
        args["lock_token"] = lock_token
    args.update(ep.extra)
    return cls(ep.host, ep.username, ep.password or "", timeout=timeout, optional_args=args)
