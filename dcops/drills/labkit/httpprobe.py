"""Probe a published HTTP service continuously until told to stop; one JSON line per attempt.

    python -m dcops.drills.labkit.httpprobe --url http://198.18.2.10/service.txt --out probes.jsonl --stop STOPFILE

Each attempt is a new TCP connection and a GET in its own thread, so a hung attempt does not delay the
next one (the resolution is --interval, not --timeout). A line: {"t": wall-clock start, "ms": duration,
"ok": 200 received, "site": the X-Dcops-Site header, "reply": status or error}. The log is appended as
attempts end (flushed), so a drill that stops halfway still has every attempt made before.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from urllib.parse import urlsplit


def attempt(host: str, port: int, path: str, timeout: float, out, lock: threading.Lock) -> None:
    t0 = time.time()
    rec = {"t": round(t0, 4), "ok": False, "site": None}
    try:
        con = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            con.request("GET", path)
            resp = con.getresponse()
            resp.read()
            rec.update(ok=resp.status == 200, site=resp.getheader("X-Dcops-Site"), reply=str(resp.status))
        finally:
            con.close()
    except OSError as e:
        rec["reply"] = type(e).__name__
    rec["ms"] = round((time.time() - t0) * 1000, 1)
    with lock:
        out.write(json.dumps(rec) + "\n")
        out.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stop", required=True, help="stop when this file exists")
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--max-s", type=float, default=900.0, help="stop anyway after this long")
    a = ap.parse_args()
    u = urlsplit(a.url)
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    end = time.time() + a.max_s
    with open(a.out, "a", encoding="utf-8") as out:
        nxt = time.time()
        while time.time() < end and not os.path.exists(a.stop):
            t = threading.Thread(target=attempt, args=(u.hostname, u.port or 80, u.path or "/", a.timeout, out, lock),
                                 daemon=True)
            t.start()
            threads.append(t)
            threads = [x for x in threads if x.is_alive()]
            nxt += a.interval
            time.sleep(max(0.0, nxt - time.time()))
        for t in threads:
            t.join(a.timeout + 1)


if __name__ == "__main__":
    main()
