"""PAN-OS XML API emulator: the request types dcops uses, with the candidate/running model and config locks.

Documentation (PAN-OS 10.x XML API, "PAN-OS and Panorama API Guide"):
- request types (keygen, config, commit, op, import, export) and the API key as ``key=``:
  https://docs.paloaltonetworks.com/ngfw/api/pan-os-xml-api-request-types-and-actions
- export / import of configuration files (``type=export&category=configuration``,
  ``type=import&category=configuration`` with a multipart ``file``):
  https://docs.paloaltonetworks.com/pan-os/10-2/pan-os-panorama-api/pan-os-xml-api-request-types/export-files-api
  https://docs.paloaltonetworks.com/pan-os/10-2/pan-os-panorama-api/pan-os-xml-api-request-types/import-files-api
- operational commands as XML (``<load><config><from>``, ``<revert><config/>``, ``<show><config><running/>``,
  ``<request><config-lock><add>``, ``<show><jobs><id>``), found with the CLI's ``debug cli on``:
  https://docs.paloaltonetworks.com/pan-os/10-2/pan-os-panorama-api/get-started-with-the-pan-os-xml-api/explore-the-api/use-the-cli-to-find-xml-api-syntax
- commit as a job: https://docs.paloaltonetworks.com/pan-os/10-2/pan-os-panorama-api/pan-os-xml-api-request-types/commit-configuration-api
- config locks (one per scope; other administrators cannot change the candidate or commit):
  https://docs.paloaltonetworks.com/pan-os/10-2/pan-os-admin/firewall-administration/manage-configuration-backups/manage-locks-for-restricting-configuration-changes
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from . import Quiet

INITIAL = ('<config version="10.2.0" urldb="paloaltonetworks"><devices><entry name="localhost.localdomain">'
           '<deviceconfig><system><hostname>{h}</hostname></system></deviceconfig></entry></devices></config>')


def canonical(text: str | bytes) -> str:
    """What the device stores: parsed and re-serialised (comments and declaration gone)."""
    return ET.tostring(ET.fromstring(text), encoding="unicode")


class PanFirewall:
    def __init__(self, hostname: str, keys: dict[str, str]):
        self.hostname = hostname
        self.keys = dict(keys)                 # API key → administrator
        self.running = canonical(INITIAL.format(h=hostname))
        self.candidate = self.running
        self.files: dict[str, str] = {}
        self.lock_holder: dict | None = None   # {"admin", "comment", "created"}
        self.jobs: dict[str, tuple[str, str]] = {}
        self.job_ids = itertools.count(1)
        self.commits: list[str] = []
        self.fail_next_commit = False
        self.truncate_next = False
        self.mutex = threading.Lock()

    def locked_by_other(self, admin: str) -> str | None:
        return self.lock_holder["admin"] if self.lock_holder and self.lock_holder["admin"] != admin else None


def ok(inner: str = "") -> str:
    return f'<response status="success"><result>{inner}</result></response>'


def error(line: str, code: str | None = None) -> str:
    c = f' code="{code}"' if code else ""
    return f'<response status="error"{c}><msg><line>{escape(line)}</line></msg></response>'


class Handler(Quiet):
    device: PanFirewall

    def _params(self) -> tuple[dict[str, str], dict[str, bytes]]:
        u = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(u.query).items()}
        files = {}
        raw = self.body() if self.command == "POST" else b""
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            # the boundary as sent (pan-python's base64 boundary holds '/', '+', '=' unquoted)
            boundary = ctype.split("boundary=", 1)[1].strip().strip('"').encode()
            for part in raw.split(b"--" + boundary)[1:]:
                if part.startswith(b"--"):
                    break
                head, _, data = part.strip(b"\r\n").partition(b"\r\n\r\n")
                disp = head.decode("utf-8", "replace")
                name = re.search(r'name="([^"]*)"', disp)
                fname = re.search(r'filename="([^"]*)"', disp)
                if name and fname:
                    files[name.group(1)] = (fname.group(1), data)
                elif name:
                    params[name.group(1)] = data.decode("utf-8")
        elif raw:
            params.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        return params, files

    def do_GET(self):
        self.handle_api()

    def do_POST(self):
        self.handle_api()

    def reply(self, xml: str, code: int = 200, ctype: str = "application/xml; charset=utf-8") -> None:
        body = xml.encode()
        if self.device.truncate_next:   # hostile: the connection drops halfway through the answer
            self.device.truncate_next = False
            body = body[: len(body) // 2]
        self.send(code, body, ctype)

    def handle_api(self):
        if urlsplit(self.path).path != "/api/":
            return self.reply(error("Not found"), 404)
        p, files = self._params()
        dev = self.device
        admin = dev.keys.get(p.get("key", "")) or dev.keys.get(self.headers.get("X-PAN-KEY", ""))
        if admin is None:
            return self.reply('<response status="error" code="403"><result><msg>Invalid Credential</msg>'
                              '</result></response>', 403)
        with dev.mutex:
            t = p.get("type")
            if t == "export":
                if p.get("category") != "configuration":
                    return self.reply(error("Invalid category"))
                return self.reply(dev.running, 200, "application/xml")
            if t == "import":
                if p.get("category") != "configuration" or "file" not in files:
                    return self.reply(error("Missing file or invalid category"))
                name, data = files["file"]
                try:
                    root = ET.fromstring(data)
                except ET.ParseError as e:
                    return self.reply(error(f"Import failed: malformed XML ({e})"))
                if root.tag != "config":
                    return self.reply(error("Import failed: not a configuration file"))
                dev.files[name] = canonical(data)
                return self.reply(f'<response status="success"><msg>{escape(name)} saved</msg></response>')
            if t == "commit":
                return self.commit(admin, p.get("cmd", ""))
            if t == "op":
                try:
                    cmd = ET.fromstring(p.get("cmd", ""))
                except ET.ParseError:
                    return self.reply(error("Malformed command"))
                return self.op(admin, cmd)
            return self.reply(error("Invalid request type"))

    def commit(self, admin: str, cmd: str) -> None:
        dev = self.device
        if cmd.strip() not in ("<commit></commit>", "<commit/>"):
            return self.reply(error("Unsupported commit command"))
        other = dev.locked_by_other(admin)
        if other:
            return self.reply(error(f"Commit failed: config is locked by {other}"))
        if dev.candidate == dev.running:
            return self.reply('<response status="success" code="19"><msg>There are no changes to commit.</msg>'
                              '</response>')
        job = str(next(dev.job_ids))
        if dev.fail_next_commit:
            dev.fail_next_commit = False
            dev.jobs[job] = ("FAIL", "Validation Error: rulebase security rule 'x' references unknown zone")
        else:
            dev.running = dev.candidate
            dev.commits.append(dev.running)
            dev.jobs[job] = ("OK", "Configuration committed successfully")
        self.reply(f'<response status="success" code="19"><result><msg><line>Commit job enqueued with jobid {job}'
                   f'</line></msg><job>{job}</job></result></response>')

    def op(self, admin: str, cmd: ET.Element) -> None:
        dev = self.device
        path = []
        e = cmd
        while True:
            path.append(e.tag)
            kids = list(e)
            if len(kids) != 1 or e.tag in ("from", "comment", "id"):
                break
            e = kids[0]
        key = "/".join(path)
        other = dev.locked_by_other(admin)
        if key == "show/system/info":
            return self.reply(ok(f"<system><hostname>{dev.hostname}</hostname><model>PA-3220</model>"
                                 "<sw-version>10.2.9</sw-version><serial>EMU000000000001</serial></system>"))
        if key in ("show/config/running", "show/config/candidate"):
            return self.reply(ok(dev.running if key.endswith("running") else dev.candidate))
        if key == "load/config/from":
            name = cmd.findtext("config/from") or ""
            if other:
                return self.reply(error(f"Config for scope shared is currently locked by {other}"))
            if name not in dev.files:
                return self.reply(error(f"{name} does not exist"))
            dev.candidate = dev.files[name]
            return self.reply(ok(f"<msg><line>Config loaded from {escape(name)}</line></msg>"))
        if key == "revert/config":
            if other:
                return self.reply(error(f"Config for scope shared is currently locked by {other}"))
            dev.candidate = dev.running
            return self.reply(ok("<msg><line>Candidate configuration reverted</line></msg>"))
        if key == "show/config-locks":
            h = dev.lock_holder
            inner = "" if not h else (f'<entry name="shared"><name>{h["admin"]}</name><created>{h["created"]}</created>'
                                      f'<comment>{escape(h["comment"])}</comment><type>config</type></entry>')
            return self.reply(ok(f"<config-locks>{inner}</config-locks>"))
        if key == "request/config-lock/add/comment" or key == "request/config-lock/add":
            if dev.lock_holder:
                if dev.lock_holder["admin"] == admin:
                    return self.reply(error("You already own a config lock for scope shared"))
                return self.reply(error(f"Config for scope shared is currently locked by {dev.lock_holder['admin']}"))
            dev.lock_holder = {"admin": admin, "comment": cmd.findtext("config-lock/add/comment") or "",
                               "created": dt.datetime.now().strftime("%Y/%m/%d %H:%M:%S")}
            return self.reply(ok("<msg><line>Successfully acquired lock. Other administrators will not be able to "
                                 "modify configuration for scope shared until lock is released</line></msg>"))
        if key == "request/config-lock/remove":
            if not dev.lock_holder:
                return self.reply(error("Config is not currently locked for scope shared"))
            if other:
                return self.reply(error(f"Config for scope shared is currently locked by {other}"))
            dev.lock_holder = None
            return self.reply(ok("<msg><line>Config lock released for scope shared</line></msg>"))
        if key == "show/jobs/id":
            job = cmd.findtext("jobs/id") or ""
            if job not in dev.jobs:
                return self.reply(error(f"job {job} not found"))
            res, line = dev.jobs[job]
            return self.reply(ok(f"<job><id>{job}</id><type>Commit</type><status>FIN</status><result>{res}</result>"
                                 f"<details><line>{escape(line)}</line></details></job>"))
        self.reply(error(f"Unsupported op command {key}"))
