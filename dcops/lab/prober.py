"""Start a new TCP connection every few milliseconds and record which succeed — measures outages.

    python -m dcops.lab.prober --target 100.100.100.100:80 --duration 3 --out result.json

Attempts run concurrently (one thread each), so one attempt hanging on a dead
path does not delay the next: the resolution is --interval, not --timeout.
Each record: [wall-clock start, seconds taken, ok, server's reply line or error].
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time


def attempt(host: str, port: int, timeout: float, source: str | None, records: list, lock: threading.Lock) -> None:
    t0 = time.time()
    try:
        with socket.create_connection((host, port), timeout=timeout,
                                      source_address=(source, 0) if source else None) as s:
            s.sendall(b"\n")  # the lab server answers at once when the client speaks first
            line = s.recv(200).decode().strip()
        rec = [t0, time.time() - t0, bool(line), line]
    except OSError as e:
        rec = [t0, time.time() - t0, False, type(e).__name__]
    with lock:
        records.append(rec)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--source", help="source address to connect from")
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    records: list = []
    lock = threading.Lock()
    threads = []
    end = time.time() + a.duration
    nxt = time.time()
    while nxt < end:
        t = threading.Thread(target=attempt, args=(host, int(port), a.timeout, a.source, records, lock), daemon=True)
        t.start()
        threads.append(t)
        nxt += a.interval
        time.sleep(max(0.0, nxt - time.time()))
    for t in threads:
        t.join(a.timeout + 1)
    records.sort()
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(records, f)
    os.replace(tmp, a.out)


def outage(records: list, since: float) -> float:
    """Seconds from `since` until the first attempt after which every attempt succeeded."""
    after = [r for r in records if r[0] >= since]
    fails = [r for r in after if not r[2]]
    if not fails:
        return 0.0
    nxt = [r for r in after if r[0] > fails[-1][0]]
    if not nxt:
        return float("inf")
    return nxt[0][0] - since


if __name__ == "__main__":
    main()
