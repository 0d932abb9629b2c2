"""A lab BMC speaking the slice of DMTF Redfish the power-on step uses.

    GET  /redfish/v1/Systems/<name>                               → {"Id", "PowerState"}
    POST /redfish/v1/Systems/<name>/Actions/ComputerSystem.Reset {"ResetType": "On"}

"On" starts the namespace host's sshd again (what booting the OS does in the lab). Runs in
the drill lab's control namespace, next to the controller, like a BMC on the OOB network.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dcops.lab import Lab

PREFIX = "/redfish/v1/Systems/"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", required=True)
    ap.add_argument("--port", type=int, default=8000)
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    lab = Lab(cfg["prefix"], name=cfg["lab"])
    lock = threading.Lock()

    def powered(short: str) -> bool:
        out = subprocess.run(["ip", "netns", "pids", lab.ns(short)], capture_output=True, text=True).stdout
        return bool(out.split())

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _host(self):
            rest = self.path[len(PREFIX):] if self.path.startswith(PREFIX) else ""
            name = rest.split("/", 1)[0]
            return name, cfg["hosts"].get(name), rest

        def do_GET(self) -> None:  # noqa: N802
            name, h, _ = self._host()
            if not h:
                return self._reply(404, {"error": "no such system"})
            self._reply(200, {"Id": name, "PowerState": "On" if powered(h["short"]) else "Off"})

        def do_POST(self) -> None:  # noqa: N802
            name, h, rest = self._host()
            if not h or not rest.endswith("/Actions/ComputerSystem.Reset"):
                return self._reply(404, {"error": "no such action"})
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if body.get("ResetType") != "On":
                return self._reply(400, {"error": "lab BMC supports ResetType On only"})
            with lock:
                if not powered(h["short"]):
                    lab.start_sshd(h["short"], address=h["address"], authorized_keys=[cfg["authorized_key"]],
                                   private_dirs=("/var/lib/dcops",))
            self._reply(204)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", a.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
