"""FortiOS (FortiGate) through its REST API: backup, restore, commit with an operator-side revert.

Endpoints (FortiOS 7.x REST API, API administrator token as ``Authorization: Bearer``):

    GET  /api/v2/monitor/system/status                         facts; proves the token
    GET  /api/v2/monitor/system/config/backup?scope=global     the full configuration (text)
    POST /api/v2/monitor/system/config/restore                 {"source": "upload", "scope": "global",
                                                                "file_content": <base64 of the file>}

A commit is a full-configuration restore of the candidate. Three things make that safe, and the
driver refuses otherwise:

- FortiOS reboots after a restore unless ``reboot-upon-config-restore`` is ``disable`` in
  ``config system global``: the candidate must say so (the fortios template does), and the running
  config must too — else the first commit (and any revert) would reboot the firewall pair.
- The file header ``#config-version=<model>-<build>:…`` must be the unit's own: the driver puts the
  running config's header line on the candidate.
- The REST API administrator and its token hash live only on the device (``config system
  api-user``): that block is carried from the running config into the candidate, or the restore
  would lock the API — and so the revert — out.

Device-side revert, researched (issue 15): FortiOS's own commit-confirm is ``config system global /
set cfg-save revert`` + ``set cfg-revert-timeout <s>`` (default 600): changes take effect but are not
saved; when "the administrative session is idle" for the timeout the unit reloads the saved
configuration — by rebooting, every HA member (Fortinet KB 191106; FortiGate 7.0.6 Administration
Guide "Using configuration save mode": "Reboot and revert changes") — unless ``execute cfg save``
("config saved." / "no config to be saved.", FortiGate 6.0 CLI Reference "cfg save") ran first. It is
defined for CLI/GUI administrative sessions; no REST endpoint for ``execute cfg save`` is documented,
and a restore writes the saved configuration itself. FortiOS 7.x "workspace mode" / REST batch
transactions (``POST /api/v2/cmdb?action=transaction-start {"timeout": N}``, ``X-TRANSACTION-ID``,
transaction-commit/abort, 7.4.1 transaction-show) discard changes at the timeout *before* they are
applied and lock only the objects edited — no revert of an applied change. So the revert stays a timer
on the operator's machine, and the driver refuses a unit (or candidate) whose cfg-save is not
``automatic``: what a restore does there is undocumented.

FortiOS has no config lock an API client can take: the lock is this machine's (api_base) plus a
check that the device's configuration did not change between load and commit (someone else's
change → "device changed since load", nothing applied). Two operators on two machines could still
race inside one restore call; docs/network.md says so.
"""
from __future__ import annotations

import base64
import itertools
import re
from pathlib import Path
from typing import Any

import httpx

from .api_base import ApiDriver, unified

HEADER = re.compile(r"^#config-version=.*$", re.M)
# blocks of the running config that belong to the device, not to the rendered intent
CARRY_OVER = ("config system api-user",)


def blocks(text: str) -> dict[str, str]:
    """Top-level `config X … end` blocks by their first line."""
    out, cur, name = {}, [], None
    for line in text.splitlines(True):
        if name is None and line.startswith("config "):
            name, cur = line.rstrip("\n"), [line]
        elif name is not None:
            cur.append(line)
            if line.rstrip("\n") == "end":
                out[name] = "".join(cur)
                name = None
    return out


def carry_over(candidate: str, running: str, names=CARRY_OVER) -> str:
    """The candidate with the running config's header line and device-owned blocks."""
    # the unit's own file header (#config-version=<model>-<build>…, #conf_file_ver=, #buildno= …, the
    # leading `#key=value` lines) replaces the candidate's; other comment lines stay
    is_head = re.compile(r"^#[\w-]+=").match
    head = "".join(itertools.takewhile(is_head, running.splitlines(True)))
    if HEADER.search(head):
        lines = candidate.splitlines(True)
        rest = lines[sum(1 for _ in itertools.takewhile(is_head, lines)):]
        candidate = head + "".join(rest)
    have = blocks(candidate)
    run = blocks(running)
    for n in names:
        if n in run:
            if n in have:
                candidate = candidate.replace(have[n], run[n])
            else:
                candidate = candidate.rstrip("\n") + "\n" + run[n]
    return candidate


def cfg_save_mode(config: str) -> str:
    """`set cfg-save` of config system global: automatic (the default when absent), manual or revert."""
    m = re.search(r"^\s*set cfg-save (\S+)\s*$", blocks(config).get("config system global", ""), re.M)
    return m.group(1) if m else "automatic"


def reboots_on_restore(config: str) -> bool:
    glob = blocks(config).get("config system global", "")
    return not re.search(r"^\s*set reboot-upon-config-restore disable\s*$", glob, re.M)


class FortiOSRestDriver(ApiDriver):
    vendor = "fortios"

    def _connect(self) -> None:
        scheme = "https" if self.https else "http"
        self.http = httpx.Client(base_url=f"{scheme}://{self.hostname}:{self.port}",
                                 headers={"Authorization": f"Bearer {self.secret}", "Accept": "application/json"},
                                 verify=self.ca_file or True,
                                 timeout=httpx.Timeout(self.command_timeout, connect=self.timeout))
        self.get_facts()

    def _disconnect(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw) -> httpx.Response:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise ConnectionError(f"{self.hostname}: {method} {path}: {type(e).__name__}: {e}") from e
        if r.status_code == 401:
            raise PermissionError(f"{self.hostname}: the API token was refused (401) — check the REST API "
                                  "administrator, its token and trusted hosts")
        if r.status_code >= 400:
            raise RuntimeError(f"{self.hostname}: {method} {path}: HTTP {r.status_code}: {r.text[:200]}")
        return r

    def get_facts(self) -> dict[str, Any]:
        j = self._call("GET", "/api/v2/monitor/system/status").json()
        res = j.get("results") or {}
        return {"hostname": res.get("hostname", self.hostname), "vendor": "Fortinet",
                "model": res.get("model_name", ""), "os_version": j.get("version", ""),
                "serial_number": j.get("serial", ""), "uptime": -1.0, "fqdn": self.hostname,
                "interface_list": []}

    def _running(self) -> str:
        return self._call("GET", "/api/v2/monitor/system/config/backup", params={"scope": "global"}).text

    def _stage(self, config: str) -> None:
        if not HEADER.search(config):
            raise ValueError("not a FortiOS configuration file (no #config-version= header)")
        if reboots_on_restore(config):
            raise ValueError("the candidate does not set `reboot-upon-config-restore disable` in config "
                             "system global: restoring it would reboot the unit")
        running = self._running()
        if reboots_on_restore(running):
            raise ValueError("the device runs with reboot-upon-config-restore enabled: a restore (and a "
                             "revert) would reboot it; set it to disable on the unit first")
        for text, whose in ((running, "the device runs"), (config, "the candidate sets")):
            mode = cfg_save_mode(text)
            if mode != "automatic":
                raise ValueError(
                    f"{whose} `set cfg-save {mode}`: unsaved changes are then reverted by the unit (on an idle "
                    "administrative session, by reloading the saved configuration) and whether a REST restore is "
                    "saved in that mode is not documented — set cfg-save automatic before pushing through the API")
        self._base = running   # the device's configuration at load: commit refuses if it changed since
        self._effective = carry_over(config, running)

    def _device_diff(self) -> str:
        return unified(self._base, self._effective)

    def _snapshot(self, running: str) -> str:
        if running != getattr(self, "_base", running):
            raise RuntimeError("device changed since load (another change was applied); nothing applied — "
                               "load again")
        path = self.state / f"before-{self.token}.conf"
        self.state.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(running, encoding="utf-8")
        path.chmod(0o600)
        return str(path)

    def _upload(self, text: str) -> None:
        body = {"source": "upload", "scope": "global",
                "file_content": base64.b64encode(text.encode("utf-8")).decode("ascii")}
        j = self._call("POST", "/api/v2/monitor/system/config/restore", json=body).json()
        if j.get("status") != "success":
            raise RuntimeError(f"restore refused: {j}")

    def _apply(self, config: str) -> None:
        self._upload(carry_over(config, self._base))

    def _restore(self, ref: str) -> None:
        self._upload(Path(ref).read_text(encoding="utf-8"))
