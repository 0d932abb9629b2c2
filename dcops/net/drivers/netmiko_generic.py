"""NAPALM-shaped adapter over Netmiko for platforms without a NAPALM driver (e.g. FortiOS).

The platform's `driver:` data supplies the commands, so the pusher calls the
same verbs as on any NAPALM driver:

    show_running: show full-configuration
    commit_confirm:                      # optional; without it revert_in is refused
      arm: [...{seconds}...]             # sent before the change
      confirm: [...]
      revert_now: [...]                  # used by rollback() while a commit is pending
    rollback: [...]                      # optional device-side rollback
    config_mode: true                    # false: send lines at the shell prompt (no enter/exit)
    wrap: {before: [...], after: [...]}  # lines around the candidate (open/close a config session)
    line_format: "{line}"                # how each candidate line is sent ({quoted}: shell-quoted)
    session: [...]                       # sent once after login (e.g. paging off on device_type generic)
    lock:                                # optional; the device's own lock, same semantics as the Linux driver
      acquire: "..."   # atomically take the lock unless held; prints `dcops-lock-ok` when this token holds it,
                       # else the holder's key=value lines ({token} {owner} {pid} {since} filled, shell-quoted)
      release: "..."   # drop the lock if {token} holds it
      show: "..."      # the lock's key=value lines, empty when free
      break: "..."     # remove a stale lock (its holder ran on this machine and is gone)

Every command of the recipe is a pattern: the placeholders in dcops.net.platforms.RECIPE_PLACEHOLDERS
({host} {user} {timeout} {seconds} {minutes} {token} {owner} {pid} {since} {candidate_file}; {line} and
{quoted} in line_format) are filled from the device and the candidate, and platforms.load refuses any
other name with the file — a new vendor's recipe is data (`recipe()` shows what would be sent).

With a `lock:` recipe, load takes the lock ("device busy: locked by USER@HOST since T" for anyone
else), commit checks the candidate id (= lock token) is still the holder, and confirm, discard,
rollback and a commit without revert release it. Without one, the adapter says so in `lock_missing`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import secrets
import shlex
from typing import Any

from napalm.base import NetworkDriver
from napalm.base.exceptions import CommitConfirmException, CommitError, ConnectionException, ReplaceConfigException

from . import locking
from .locking import DeviceBusy

LOCK_OK = "dcops-lock-ok"


class NetmikoDriver(NetworkDriver):
    #: commit-confirm state lives in this session, not on the device (see dcops.net.push)
    pending_commit_on_device = False

    def __init__(self, hostname: str, username: str, password: str | None = None, timeout: int = 60,
                 optional_args: dict[str, Any] | None = None, *, platform_spec: dict):
        self.hostname, self.username, self.password, self.timeout = hostname, username, password, timeout
        self.args = dict(optional_args or {})
        self.spec = platform_spec
        self.conn = None
        self._candidate: str | None = None
        self._previous: str | None = None
        self._pending = False
        self.token = str(self.args.get("lock_token") or secrets.token_hex(16))
        self.owner = str(self.args.get("lock_owner") or locking.owner())
        self.lock_recipe = self.spec.get("lock") or None
        self.device_lock = _LockAdmin(self) if self.lock_recipe else None

    def open(self) -> None:
        from netmiko import ConnectHandler
        params = {"device_type": self.spec["device_type"], "host": self.hostname, "username": self.username,
                  "password": self.password or "", "port": int(self.args.get("port", 22)),
                  "conn_timeout": self.timeout, "use_keys": bool(self.args.get("key_file")),
                  "key_file": self.args.get("key_file"), "allow_agent": False}
        if self.args.get("netns"):
            from dcops.lab.netns import connect_in
            params["sock"] = connect_in(self.args["netns"], self.hostname, params["port"], timeout=self.timeout)
        try:
            self.conn = ConnectHandler(**params)
            for cmd in self.recipe("session"):  # e.g. paging off on a generic channel
                self.conn.send_command_timing(cmd, read_timeout=self.timeout)
        except Exception as e:  # netmiko raises several unrelated types
            raise ConnectionException(f"{self.hostname}: {e}") from e

    def close(self) -> None:
        if self.conn is not None:
            self.conn.disconnect()
            self.conn = None

    def is_alive(self) -> dict[str, bool]:
        return {"is_alive": bool(self.conn and self.conn.is_alive())}

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False,
                   format: str = "text") -> dict[str, str]:
        running = self.conn.send_command(self.recipe("show_running")[0], read_timeout=self.timeout)
        running = running.strip("\n") + "\n" if running.strip() else ""  # prompt echo leaves stray newlines
        return {"running": running, "candidate": self._candidate or "", "startup": ""}

    def get_facts(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "vendor": self.spec.get("device_type", ""), "model": "",
                "os_version": "", "serial_number": "", "uptime": -1.0, "fqdn": self.hostname,
                "interface_list": []}

    # -- the recipe's placeholders
    def placeholders(self, **extra: Any) -> dict[str, Any]:
        seconds = int(extra.pop("seconds", 0))
        base = {"host": self.hostname, "user": self.username, "token": self.token}
        return {**base, "timeout": self.timeout, "seconds": seconds, "minutes": math.ceil(seconds / 60),
                "owner": shlex.quote(self.owner), "pid": os.getpid(),
                "since": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "candidate_file": str(self.spec.get("candidate_file", "/var/tmp/dcops-{token}.cfg")).format(**base),
                **extra}

    def recipe(self, key: str, **extra: Any) -> list[str]:
        """The commands of one recipe entry ("session", "show_running", "wrap.before", "commit_confirm.arm",
        "lock.acquire", …) with the placeholders filled — what this driver sends for it."""
        value: Any = self.spec
        for part in key.split("."):
            value = (value or {}).get(part)
        if value is None:
            return []
        values = self.placeholders(**extra)
        return [str(c).format(**values) for c in (value if isinstance(value, list) else [value])]

    # -- the device's lock (platform recipe)
    def _lock_cmd(self, name: str) -> str:
        out = self.conn.send_command_timing(self.recipe(f"lock.{name}")[0],
                                            read_timeout=self.timeout, strip_prompt=True, strip_command=True)
        return out

    def _holder(self) -> dict[str, str]:
        return locking.parse(self._lock_cmd("show"))

    def _take_lock(self) -> None:
        if not self.lock_recipe:
            return
        for attempt in (1, 2):
            out = self._lock_cmd("acquire")
            if LOCK_OK in out:
                return
            holder = locking.parse(out)
            if attempt == 1 and holder and locking.holder_gone(holder) and self.lock_recipe.get("break"):
                self._lock_cmd("break")   # its push is gone (same machine, dead pid): take over once
                continue
            raise DeviceBusy(self.hostname, holder or {"owner": "?", "since": "?"})

    def _release_lock(self) -> None:
        if self.lock_recipe and self.conn is not None:
            try:
                self._lock_cmd("release")
            except Exception:
                pass   # a lost session: the lock stays until `dcops net unlock` (never silently broken)

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        if (filename is None) == (config is None):
            raise ReplaceConfigException("give exactly one of filename or config")
        text = open(filename, encoding="utf-8").read() if filename else config
        self._take_lock()
        self._candidate = text

    load_merge_candidate = load_replace_candidate

    def compare_config(self) -> str:
        if self._candidate is None:
            return ""
        running = self.get_config()["running"]
        return "".join(difflib.unified_diff(running.splitlines(True), self._candidate.splitlines(True),
                                            "running", "candidate"))

    def discard_config(self) -> None:
        self._candidate = None
        if not self._pending:
            self._release_lock()

    def _send(self, lines: list[str]) -> str:
        """Send filled commands (see recipe())."""
        mode = bool(self.spec.get("config_mode", True))
        return self.conn.send_config_set(lines, read_timeout=self.timeout, enter_config_mode=mode,
                                         exit_config_mode=mode)

    def candidate_commands(self, text: str) -> list[str]:
        """What applying `text` sends: wrap.before, each line through line_format, wrap.after."""
        fmt = self.spec.get("line_format", "{line}")
        values = self.placeholders()
        body = [fmt.format(**{**values, "line": ln, "quoted": shlex.quote(ln)})
                for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        return [*self.recipe("wrap.before"), *body, *self.recipe("wrap.after")]

    def _apply(self, text: str) -> None:
        self._send(self.candidate_commands(text))

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        if self._candidate is None:
            raise CommitError(f"{self.hostname}: no candidate loaded")
        cc = self.spec.get("commit_confirm")
        if revert_in and not cc:
            raise CommitError(f"{self.hostname}: platform has no commit-confirm recipe")
        if self.lock_recipe and self._holder().get("token") != self.token:
            raise CommitError(f"{self.hostname}: this session does not hold the device lock any more "
                              f"({self._holder().get('owner', 'nobody')} does); load again")
        self._previous = self.get_config()["running"]
        if revert_in:
            self._send(self.recipe("commit_confirm.arm", seconds=int(revert_in)))
            self._pending = True
        self._apply(self._candidate)
        self._candidate = None
        if not revert_in:
            self._release_lock()

    def confirm_commit(self) -> None:
        if not self._pending:
            raise CommitConfirmException(f"{self.hostname}: no commit pending")
        self._send(self.recipe("commit_confirm.confirm"))
        self._pending = False
        self._release_lock()

    def has_pending_commit(self) -> bool:
        return self._pending

    def rollback(self) -> None:
        if self._pending:
            self._send(self.recipe("commit_confirm.revert_now"))
            self._pending = False
            self._release_lock()
        elif self.spec.get("rollback"):
            self._send(self.recipe("rollback"))
        elif self._previous is not None:
            self._apply(self._previous)
        else:
            raise CommitError(f"{self.hostname}: nothing to roll back to")


class _LockAdmin:
    """`dcops net unlock`: the lock's holder, and its removal (refused while this session has a commit pending)."""

    def __init__(self, drv: NetmikoDriver):
        self.drv = drv

    def info(self) -> dict[str, str]:
        return self.drv._holder()

    def unlock(self) -> dict[str, str]:
        if self.drv._pending:
            raise CommitError(f"{self.drv.hostname}: a commit is pending; confirm or roll back first")
        was = self.info()
        self.drv._lock_cmd("break")
        return was
