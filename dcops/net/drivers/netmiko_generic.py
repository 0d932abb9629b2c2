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
"""
from __future__ import annotations

import difflib
from typing import Any

from napalm.base import NetworkDriver
from napalm.base.exceptions import CommitConfirmException, CommitError, ConnectionException, ReplaceConfigException


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
            for cmd in self.spec.get("session") or ():  # e.g. paging off on a generic channel
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
        running = self.conn.send_command(self.spec["show_running"], read_timeout=self.timeout)
        running = running.strip("\n") + "\n" if running.strip() else ""  # prompt echo leaves stray newlines
        return {"running": running, "candidate": self._candidate or "", "startup": ""}

    def get_facts(self) -> dict[str, Any]:
        return {"hostname": self.hostname, "vendor": self.spec.get("device_type", ""), "model": "",
                "os_version": "", "serial_number": "", "uptime": -1.0, "fqdn": self.hostname,
                "interface_list": []}

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        if (filename is None) == (config is None):
            raise ReplaceConfigException("give exactly one of filename or config")
        self._candidate = open(filename, encoding="utf-8").read() if filename else config

    load_merge_candidate = load_replace_candidate

    def compare_config(self) -> str:
        if self._candidate is None:
            return ""
        running = self.get_config()["running"]
        return "".join(difflib.unified_diff(running.splitlines(True), self._candidate.splitlines(True),
                                            "running", "candidate"))

    def discard_config(self) -> None:
        self._candidate = None

    def _send(self, lines: list[str], seconds: int = 0, *, raw: bool = False) -> str:
        mode = bool(self.spec.get("config_mode", True))
        cmds = lines if raw else [ln.format(seconds=seconds) for ln in lines]
        return self.conn.send_config_set(cmds, read_timeout=self.timeout, enter_config_mode=mode,
                                         exit_config_mode=mode)

    def _apply(self, text: str) -> None:
        wrap = self.spec.get("wrap") or {}
        import shlex
        fmt = self.spec.get("line_format", "{line}")
        body = [fmt.format(line=ln, quoted=shlex.quote(ln))
                for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        self._send([*wrap.get("before", []), *body, *wrap.get("after", [])], raw=True)

    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        if self._candidate is None:
            raise CommitError(f"{self.hostname}: no candidate loaded")
        cc = self.spec.get("commit_confirm")
        if revert_in and not cc:
            raise CommitError(f"{self.hostname}: platform has no commit-confirm recipe")
        self._previous = self.get_config()["running"]
        if revert_in:
            self._send(cc["arm"], int(revert_in))
            self._pending = True
        self._apply(self._candidate)
        self._candidate = None

    def confirm_commit(self) -> None:
        if not self._pending:
            raise CommitConfirmException(f"{self.hostname}: no commit pending")
        self._send(self.spec["commit_confirm"]["confirm"])
        self._pending = False

    def has_pending_commit(self) -> bool:
        return self._pending

    def rollback(self) -> None:
        if self._pending:
            self._send(self.spec["commit_confirm"]["revert_now"])
            self._pending = False
        elif self.spec.get("rollback"):
            self._send(self.spec["rollback"])
        elif self._previous is not None:
            self._apply(self._previous)
        else:
            raise CommitError(f"{self.hostname}: nothing to roll back to")
