"""Open a new TCP connection every few milliseconds and record which succeed — measures outages.

    python -m dcops.lab.prober --target 100.100.100.100:80 --duration 3 --out result.json

Each record: [wall-clock start, seconds taken, ok, server's reply line or error].
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=0.15)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    records = []
    end = time.time() + a.duration
    while time.time() < end:
        t0 = time.time()
        try:
            with socket.create_connection((host, int(port)), timeout=a.timeout) as s:
                s.settimeout(a.timeout * 2)
                line = s.recv(200).decode().strip()
            records.append([t0, time.time() - t0, bool(line), line])
        except OSError as e:
            records.append([t0, time.time() - t0, False, type(e).__name__])
        time.sleep(max(0.0, a.interval - (time.time() - t0)))
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f)
    os.replace(tmp, a.out)


def outage(records: list, since: float) -> float:
    """Seconds from `since` until the first attempt after which every attempt succeeded."""
    after = [r for r in records if r[0] >= since]
    last_fail = None
    for r in after:
        if not r[2]:
            last_fail = r
    if last_fail is None:
        return 0.0
    nxt = [r for r in after if r[0] > last_fail[0]]
    if not nxt:
        return float("inf")
    return nxt[0][0] - since


if __name__ == "__main__":
    main()
