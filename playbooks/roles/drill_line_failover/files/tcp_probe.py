#!/usr/bin/env python3
"""Service probe for the leased-line drill: a new TCP connection every interval, one JSON line each.

Each connection gets a fresh source port, so the link balancer's L4 hash spreads the
probes over both lines. Stops when the stop file appears or after --max-seconds.
"""
import argparse
import json
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--target", required=True, help="HOST:PORT")
ap.add_argument("--interval", type=float, default=0.1)
ap.add_argument("--timeout", type=float, default=0.5)
ap.add_argument("--out", required=True)
ap.add_argument("--stop-file", required=True)
ap.add_argument("--max-seconds", type=float, default=300)
ap.add_argument("--http", action="store_true", help="send HEAD / and keep the reply's last line (who answered)")
a = ap.parse_args()
host, port = a.target.rsplit(":", 1)
end = time.time() + a.max_seconds
with open(a.out, "w", encoding="utf-8") as out:
    while time.time() < end and not os.path.exists(a.stop_file):
        t = time.time()
        rec = {"t": round(t, 4), "ok": False}
        try:
            # success is the TCP handshake: it crossed a line and back
            with socket.create_connection((host, int(port)), timeout=a.timeout) as s:
                rec["ok"] = True
                if a.http:
                    s.settimeout(a.timeout)
                    s.sendall(b"HEAD / HTTP/1.0\r\n\r\n")
                    lines = s.recv(400).decode(errors="replace").strip().splitlines()
                    rec["reply"] = lines[-1] if lines else ""
        except OSError as e:
            rec.setdefault("error", type(e).__name__)
        rec["ms"] = round((time.time() - t) * 1000, 1)
        out.write(json.dumps(rec) + "\n")
        out.flush()
        time.sleep(max(0.0, a.interval - (time.time() - t)))
