"""Incident scenarios as data: timed steps (`dcops/demo/scenarios/<name>.yaml`) and their runner.

A step has an offset `at` ("90s", "2m") from the scenario's start, an optional `say` (printed
when it runs) and at most one action:

    snmp_set:         {device, oid, value, type?}                SNMP SET on the device's simulated agent
    ramp:             {device, oid, from, to, over, every, type?}  a value moving in steps (runs alongside)
    cut_line:         {line}                                     a leased line fails at the far end (lab)
    restore_line:     {line}
    firewall_change:  {device, replace: {old, new}, confirm_timeout, expect}   a change pushed with commit-confirm
    backup_job:       {client, fault: fd-stopped|none, expect: failed|ok}   a Bacula job of the demo's director

`type` is the object's SMI type (integer — the default —, gauge32, counter32, timeticks).
The actions themselves live in `actions.py` and delegate to the monitor, lab and net packages.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from ruamel.yaml import YAML

SCENARIO_DIR = Path(__file__).parent / "scenarios"
ACTIONS = ("snmp_set", "ramp", "cut_line", "restore_line", "firewall_change", "backup_job")


class ScenarioError(ValueError):
    pass


def seconds(v: Any) -> float:
    """"90s", "2m", "1m30s", 5 → seconds."""
    if isinstance(v, (int, float)):
        return float(v)
    m = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", str(v))
    if not m or not any(m.groups()):
        raise ValueError(f"not a duration: {v!r} (e.g. 30s, 2m, 1m30s)")
    return float(m.group(1) or 0) * 60 + float(m.group(2) or 0)


SnmpType = Literal["integer", "gauge32", "counter32", "timeticks"]


class SnmpSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str
    oid: str = Field(pattern=r"^\d+(\.\d+)+$")
    value: int
    type: SnmpType = "integer"  # the object's SMI type: an agent rejects a SET of the wrong type


class Ramp(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    device: str
    oid: str = Field(pattern=r"^\d+(\.\d+)+$")
    start: float = Field(alias="from")
    to: float
    over: float
    every: float = 5.0
    type: SnmpType = "integer"

    _dur = field_validator("over", "every", mode="before")(lambda v: seconds(v))


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line: str


class Replace(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old: str
    new: str


class FirewallChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str
    replace: Replace
    confirm_timeout: int = Field(20, ge=5)
    expect: str = Field("rolled-back", pattern="^(rolled-back|confirmed)$")


class BackupJob(BaseModel):
    """Run the client's backup job now on the demo's Bacula; `fault` first breaks (or mends) its file daemon."""
    model_config = ConfigDict(extra="forbid")
    client: str
    fault: Literal["fd-stopped", "none"] = "none"
    expect: Literal["failed", "ok"] = "ok"


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: float = 0.0
    say: Optional[str] = None
    snmp_set: Optional[SnmpSet] = None
    ramp: Optional[Ramp] = None
    cut_line: Optional[Line] = None
    restore_line: Optional[Line] = None
    firewall_change: Optional[FirewallChange] = None
    backup_job: Optional[BackupJob] = None

    _at = field_validator("at", mode="before")(lambda v: seconds(v))

    @model_validator(mode="after")
    def _one_action(self):
        n = sum(getattr(self, a) is not None for a in ACTIONS)
        if n > 1:
            raise ValueError("a step has at most one action")
        if n == 0 and not self.say:
            raise ValueError(f"a step needs an action ({', '.join(ACTIONS)}) or `say`")
        return self

    @property
    def action(self) -> tuple[str, BaseModel] | None:
        for a in ACTIONS:
            if getattr(self, a) is not None:
                return a, getattr(self, a)
        return None

    @property
    def end(self) -> float:
        return self.at + (self.ramp.over if self.ramp else 0.0)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    title: str
    summary: str
    steps: list[Step]

    @property
    def duration(self) -> float:
        return max((s.end for s in self.steps), default=0.0)

    def devices(self) -> set[str]:
        return {a[1].device for s in self.steps if (a := s.action) and hasattr(a[1], "device")}

    def needs_lab(self) -> bool:
        return any(s.action and s.action[0] in ("cut_line", "restore_line", "firewall_change") for s in self.steps)


def available() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def load(name_or_path: str | Path) -> Scenario:
    p = Path(name_or_path)
    if not p.suffix:
        p = SCENARIO_DIR / f"{name_or_path}.yaml"
        if not p.is_file():
            raise ScenarioError(f"unknown scenario {name_or_path!r} (available: {', '.join(available())})")
    try:
        data = YAML(typ="safe").load(p.read_text(encoding="utf-8"))
        return Scenario.model_validate(data)
    except OSError as e:
        raise ScenarioError(f"{p}: {e.strerror}") from None
    except Exception as e:  # YAML or pydantic: one readable line per problem
        errs = getattr(e, "errors", None)
        if callable(errs):
            lines = [f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in errs()]
            raise ScenarioError(f"{p}: " + "; ".join(lines)) from None
        raise ScenarioError(f"{p}: {e}") from None


def check_against(sc: Scenario, devices: set[str], lines: set[str]) -> list[str]:
    """Names a scenario uses that the running site does not have."""
    problems = [f"{sc.name}: device {d!r} is not simulated" for d in sorted(sc.devices() - devices)
                if not d.startswith("lab-")]
    for s in sc.steps:
        a = s.action
        if a and a[0] in ("cut_line", "restore_line") and a[1].line not in lines:
            problems.append(f"{sc.name}: no leased line {a[1].line!r} in the inventory")
    return problems


Log = Callable[[str, str], None]  # (scenario, message)


class Runner:
    """Plays scenarios on their schedules in background threads; `stop()` ends them early.

    `speed` compresses time (2 = twice as fast) for rehearsals and tests.
    """

    def __init__(self, actions, log: Log, speed: float = 1.0):
        self.actions = actions
        self.log = log
        self.speed = speed
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self, sc: Scenario, delay: float = 0.0) -> None:
        t = threading.Thread(target=self._play, args=(sc, delay), name=f"scenario-{sc.name}", daemon=True)
        self.threads.append(t)
        t.start()

    def _sleep_until(self, t0: float, offset: float) -> bool:
        """False when stopped."""
        wait = t0 + offset / self.speed - time.monotonic()
        return not self.stop_event.wait(max(0.0, wait))

    def _play(self, sc: Scenario, delay: float) -> None:
        if self.stop_event.wait(delay):
            return
        t0 = time.monotonic()
        self.log(sc.name, f"started — {sc.title}")
        side: list[threading.Thread] = []
        for step in sorted(sc.steps, key=lambda s: s.at):
            if not self._sleep_until(t0, step.at):
                return
            if step.say:
                self.log(sc.name, step.say)
            a = step.action
            if a is None:
                continue
            kind, args = a
            if kind == "ramp":
                th = threading.Thread(target=self._ramp, args=(sc, args), daemon=True)
                side.append(th)
                th.start()
                continue
            try:
                result = getattr(self.actions, kind)(args)
                if result:
                    self.log(sc.name, result)
            except Exception as e:  # noqa: BLE001 - one failed action never stops the demo
                msg = f"{kind} failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                self.errors.append(f"{sc.name}: {msg}")
                self.log(sc.name, msg)
        for th in side:
            th.join()
        if not self.stop_event.is_set():
            self.log(sc.name, "finished")

    def _ramp(self, sc: Scenario, r: Ramp) -> None:
        steps = max(1, round(r.over / r.every))
        t0 = time.monotonic()
        for i in range(1, steps + 1):
            value = round(r.start + (r.to - r.start) * i / steps)
            try:
                self.actions.snmp_set(SnmpSet(device=r.device, oid=r.oid, value=value, type=r.type))
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"{sc.name}: ramp {r.device} {r.oid}: {e}")
                self.log(sc.name, f"ramp {r.device} {r.oid} failed: {e}")
                return
            if i < steps and not self._sleep_until(t0, i * r.every):
                return

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)

    def wait(self) -> None:
        for t in self.threads:
            while t.is_alive() and not self.stop_event.is_set():
                t.join(0.2)
