"""FortiOS REST API emulator: the three endpoints dcops uses, as the FortiOS 7.x REST API documents them.

Documentation:
- REST API administrator and token, sent as ``Authorization: Bearer <token>``:
  https://docs.fortinet.com/document/forticonverter/6.2.1/online-help/866905/connect-fortigate-device-via-api-token
- ``GET /api/v2/monitor/system/config/backup?scope=global`` (full configuration as text) and
  ``POST /api/v2/monitor/system/config/restore`` with ``{"source": "upload", "scope": "global",
  "file_content": <base64>}``: FortiOS REST API reference (Fortinet Developer Network), monitor/system/config;
  the same calls as fortiosapi's ``download('system', 'config/backup', parameters={'scope': 'global'})``
  (e.g. https://github.com/mbdraks/gatepy/blob/master/examples/monitor_system_config_backup.py).
- A restore reboots the unit unless ``reboot-upon-config-restore`` is disabled in config system global
  (https://kestra.io/plugins/plugin-ee-fortinet/fortinet-fortigate/io.kestra.plugin.ee.fortinet.fortigate.restoreconfig).

The token hash lives in the configuration itself (``config system api-user`` … ``set api-key ENC
SHA256:<hex>`` — the emulator's stand-in for FortiOS's encrypted key), so a restore that drops the
api-user block locks the API out, as on a real unit.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

from . import Quiet

MODEL_HEADER = "#config-version=FGT18F-7.02.8-FW-build1639-240313:opmode=0:vdom=0:user=dcops-api"


def api_user_block(token: str) -> str:
    return ("config system api-user\n    edit \"dcops-api\"\n"
            f"        set api-key ENC SHA256:{hashlib.sha256(token.encode()).hexdigest()}\n"
            "        set accprofile \"super_admin\"\n    next\nend\n")


def initial_config(hostname: str, token: str, *, reboot_on_restore: bool = False, cfg_save: str = "") -> str:
    return (f"{MODEL_HEADER}\n#conf_file_ver=1\n#buildno=1639\n#global_vdom=1\n"
            "config system global\n"
            + (f"    set cfg-save {cfg_save}\n" if cfg_save else "")
            + f"    set hostname \"{hostname}\"\n"
            + ("" if reboot_on_restore else "    set reboot-upon-config-restore disable\n")
            + "end\n" + api_user_block(token)
            + "config firewall address\n    edit \"net-10.20.20.0-23\"\n        set subnet 10.20.20.0 255.255.254.0\n"
              "    next\nend\n")


def _blocks(text: str) -> list[tuple[str, str]]:
    out, cur, name = [], [], None
    for line in text.splitlines(True):
        if name is None and line.startswith("config "):
            name, cur = line.rstrip("\n"), [line]
        elif name is not None:
            cur.append(line)
            if line.rstrip("\n") == "end":
                out.append((name, "".join(cur)))
                name = None
    if name is not None:
        raise ValueError(f"block {name!r} has no end")
    return out


class FortiGate:
    def __init__(self, hostname: str, token: str, *, reboot_on_restore: bool = False, reboot_s: float = 2.0,
                 cfg_save: str = ""):
        self.hostname = hostname
        self.config = initial_config(hostname, token, reboot_on_restore=reboot_on_restore, cfg_save=cfg_save)
        self.lock = threading.Lock()
        self.restores: list[str] = []     # every restore body applied, in order
        self.fail_next_restore_midway = False
        self.reboot_s = reboot_s
        self.rebooting_until = 0.0
        self.requests: list[tuple[str, str]] = []

    def valid_token(self, token: str) -> bool:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return bool(re.search(rf"^\s*set api-key ENC SHA256:{digest}\s*$", self.config, re.M))

    def restore(self, text: str) -> tuple[int, dict]:
        if not text.startswith("#config-version="):
            return 500, {"status": "error", "error": -1, "cli_error": "invalid config file (no header)"}
        if text.splitlines()[0].split(":")[0] != MODEL_HEADER.split(":")[0]:
            return 500, {"status": "error", "error": -1, "cli_error": "config file is for another model/firmware"}
        try:
            new = _blocks(text)
        except ValueError as e:
            return 500, {"status": "error", "error": -1, "cli_error": str(e)}
        if self.fail_next_restore_midway:   # hostile: half the blocks applied, then an internal error
            self.fail_next_restore_midway = False
            current = dict(_blocks(self.config))
            for name, body in new[: len(new) // 2]:
                current[name] = body
            head = "".join(ln for ln in self.config.splitlines(True) if ln.startswith("#"))
            self.config = head + "".join(current.values())
            return 500, {"status": "error", "http_status": 500, "error": -1}
        self.config = text
        self.restores.append(text)
        if not re.search(r"^\s*set reboot-upon-config-restore disable\s*$",
                         dict(new).get("config system global", ""), re.M):
            self.rebooting_until = time.monotonic() + self.reboot_s
        return 200, {"http_method": "POST", "status": "success", "results": {"restore_started": True}}


class Handler(Quiet):
    device: FortiGate

    def _auth(self) -> bool:
        dev = self.device
        if time.monotonic() < dev.rebooting_until:
            self.send(503, b"rebooting", "text/plain")
            return False
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer ") or not dev.valid_token(h[7:]):
            self.send(401, json.dumps({"status": "error", "http_status": 401}).encode(), "application/json")
            return False
        return True

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        dev = self.device
        dev.requests.append(("GET", u.path))
        if not self._auth():
            return
        with dev.lock:
            if u.path == "/api/v2/monitor/system/status":
                body = {"http_method": "GET", "results": {"model_name": "FortiGate", "model_number": "1800F",
                                                           "model": "FGT18F", "hostname": dev.hostname},
                        "vdom": "root", "path": "system", "name": "status", "status": "success",
                        "serial": "FGEMU00000000001", "version": "v7.2.8", "build": 1639}
                return self.send(200, json.dumps(body).encode(), "application/json")
            if u.path == "/api/v2/monitor/system/config/backup":
                if q.get("scope") not in (["global"], ["vdom"]):
                    return self.send(400, b'{"status":"error","http_status":400}', "application/json")
                return self.send(200, dev.config.encode(), "text/plain; charset=utf-8")
        self.send(404, b'{"status":"error","http_status":404}', "application/json")

    def do_POST(self):
        u = urlsplit(self.path)
        dev = self.device
        dev.requests.append(("POST", u.path))
        raw = self.body()
        if not self._auth():
            return
        if u.path != "/api/v2/monitor/system/config/restore":
            return self.send(404, b'{"status":"error","http_status":404}', "application/json")
        try:
            j = json.loads(raw)
            assert j.get("source") == "upload" and j.get("scope") in ("global", "vdom")
            text = base64.b64decode(j["file_content"], validate=True).decode("utf-8")
        except (ValueError, AssertionError, KeyError, binascii.Error, UnicodeDecodeError):
            return self.send(400, b'{"status":"error","http_status":400}', "application/json")
        with dev.lock:
            code, body = dev.restore(text)
        self.send(code, json.dumps(body).encode(), "application/json")
