"""Alert rules (`monitors/alerts.yaml`): conditions, hold times, hysteresis, per-device overrides, notify config."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML

from dcops import paths
from ..profiles import Sample

ALERTS_FILE = paths.ALERTS_FILE
_DUR = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")


def parse_duration(v) -> float:
    if isinstance(v, int | float):
        return float(v)
    m = _DUR.match(str(v).strip())
    if not m:
        raise ValueError(f"bad duration {v!r} (use e.g. 30s, 5m, 1h)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    metric: str
    above: float | None = None
    below: float | None = None
    clear_above: float | None = None  # with `below`: cleared only once the value is back above this
    clear_below: float | None = None  # with `above`: cleared only once the value is back below this
    state_in: tuple[str, ...] = ()
    state_not_in: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_test(self) -> "Condition":
        if sum(x is not None and x != () for x in (self.above, self.below, self.state_in or None,
                                                   self.state_not_in or None)) != 1:
            raise ValueError("a condition needs exactly one of above, below, state_in, state_not_in")
        if self.above is not None and self.clear_below is not None and self.clear_below > self.above:
            raise ValueError("clear_below must not be above the 'above' threshold")
        if self.below is not None and self.clear_above is not None and self.clear_above < self.below:
            raise ValueError("clear_above must not be below the 'below' threshold")
        return self

    def bad(self, s: Sample, active: bool) -> bool:
        if self.state_in:
            return s.state in self.state_in
        if self.state_not_in:
            return s.state not in self.state_not_in
        v = s.value
        if self.above is not None:
            return v > (self.clear_below if active and self.clear_below is not None else self.above)
        return v < (self.clear_above if active and self.clear_above is not None else self.below)


_OVERRIDABLE = {"above", "below", "clear_above", "clear_below", "state_in", "state_not_in"}


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    metric: str | None = None
    above: float | None = None
    below: float | None = None
    clear_above: float | None = None
    clear_below: float | None = None
    state_in: tuple[str, ...] = ()
    state_not_in: tuple[str, ...] = ()
    any: tuple[Condition, ...] = ()
    labels: dict[str, str] = {}  # label -> regex the sample's label must fully match
    devices: tuple[str, ...] = ()  # only these devices (empty: all)
    profiles: tuple[str, ...] = ()
    for_: float = Field(0, alias="for")
    clear_for: float = 60
    severity: Literal["critical", "warning", "info"] = "warning"
    summary_vi: str = ""
    summary_en: str = ""
    overrides: dict[str, dict] = {}  # device -> condition fields / for / clear_for / severity

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("for_", "clear_for", mode="before")
    @classmethod
    def _dur(cls, v):
        return parse_duration(v)

    @model_validator(mode="after")
    def _shape(self) -> "Rule":
        if bool(self.metric) == bool(self.any):
            raise ValueError("a rule has either 'metric' (one condition) or 'any' (a list)")
        if self.metric:
            self.single()
        for dev, ov in self.overrides.items():
            bad = set(ov) - _OVERRIDABLE - {"for", "clear_for", "severity"}
            if bad:
                raise ValueError(f"override for {dev}: unknown keys {sorted(bad)}")
        return self

    def single(self) -> Condition:
        return Condition(metric=self.metric, above=self.above, below=self.below, clear_above=self.clear_above,
                         clear_below=self.clear_below, state_in=self.state_in, state_not_in=self.state_not_in)

    def for_device(self, device: str) -> tuple[tuple[Condition, ...], float, float, str]:
        conds = (self.single(),) if self.metric else self.any
        ov = self.overrides.get(device)
        if not ov:
            return conds, self.for_, self.clear_for, self.severity
        cond_ov = {k: v for k, v in ov.items() if k in _OVERRIDABLE}
        if cond_ov:
            conds = tuple(c.model_copy(update=cond_ov) for c in conds)
        return (conds, parse_duration(ov.get("for", self.for_)), parse_duration(ov.get("clear_for", self.clear_for)),
                ov.get("severity", self.severity))

    def matches(self, device: str, profile: str, s: Sample) -> bool:
        if self.devices and device not in self.devices:
            return False
        if self.profiles and profile not in self.profiles:
            return False
        for k, rx in self.labels.items():
            if k not in s.labels or not re.fullmatch(rx, s.labels[k]):
                return False
        return True


class Email(_Strict):
    enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    starttls: bool = False
    username: str | None = None
    password_ref: str | None = None
    sender: str = "dcops-noc@localhost"
    to: tuple[str, ...] = ()


class Webhook(_Strict):
    enabled: bool = False
    url: str = ""
    timeout: float = 5


class Telegram(_Strict):
    """Telegram Bot API sendMessage. The bot token is a reference (env:VAR), never a value."""
    enabled: bool = False
    token_ref: str | None = None
    chat_ids: tuple[str, ...] = ()
    api_base: str = "https://api.telegram.org"
    timeout: float = 10

    @field_validator("api_base")
    @classmethod
    def _https(cls, v: str) -> str:
        # The bot token travels in the URL path: never over plain HTTP except to this machine.
        from urllib.parse import urlsplit
        u = urlsplit(v)
        if u.scheme == "https" or (u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1")):
            return v
        raise ValueError("api_base must be https:// (http:// only to 127.0.0.1)")


class Escalation(_Strict):
    """A critical alert still unacknowledged `after` its firing goes to a second contact (once)."""
    enabled: bool = False
    after: float = 900
    severities: tuple[str, ...] = ("critical",)
    telegram_chat_ids: tuple[str, ...] = ()
    email_to: tuple[str, ...] = ()

    @field_validator("after", mode="before")
    @classmethod
    def _dur(cls, v):
        return parse_duration(v)


class NotifyConfig(_Strict):
    email: Email = Email()
    webhook: Webhook = Webhook()
    telegram: Telegram = Telegram()
    escalation: Escalation = Escalation()


class RuleSet(_Strict):
    defaults: dict = {}
    rules: tuple[Rule, ...]
    notify: NotifyConfig = NotifyConfig()

    @field_validator("rules")
    @classmethod
    def _unique(cls, v):
        names = [r.name for r in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate rule names: {sorted(dup)}")
        return v

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)


class RulesError(ValueError):
    pass


def load_rules(path: Path | None = None) -> RuleSet:
    path = Path(path or ALERTS_FILE)
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except Exception as e:  # noqa: BLE001
        raise RulesError(f"{path}: not valid YAML: {e}") from e
    defaults = (data or {}).get("defaults") or {}
    rules = []
    for r in (data or {}).get("rules") or []:
        merged = {k: v for k, v in defaults.items()}
        merged.update(r)
        rules.append(merged)
    try:
        return RuleSet.model_validate({**(data or {}), "rules": rules})
    except ValidationError as e:
        first = e.errors()[0]
        loc = list(first["loc"])
        where = ""
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            where = f"rule {rules[loc[1]].get('name', loc[1])!r}: "
            loc = loc[2:]
        field = ".".join(map(str, loc))
        msg = first["msg"].removeprefix("Value error, ")  # pydantic's prefix says nothing to the reader
        raise RulesError(f"{path}: {where}{field + ': ' if field else ''}{msg}") from e
