"""Health checker of the lab link balancer: ICMP to each line's far end, ECMP over the live lines.

A line is declared down after `--misses` unanswered probes and up again after one
answer; the default route is then rewritten over the live lines only. This is what
the appliance does in the real room; the lab's Linux link balancer needs it to
survive a line failing at the far end (carrier stays up).

    python -m dcops.drills.labkit.linkwatch --line wan1=198.51.100.1 --line wan2=192.0.2.1
"""
from __future__ import annotations

import argparse
import os
import select
import socket
import struct
import subprocess
import time


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(dev: str, peer: str, ident: int, seq: int, timeout: float) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        payload = b"dcops-linkwatch"
        pkt = struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload
        s.sendto(pkt, (peer, 0))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not select.select([s], [], [], left)[0]:
                return False
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq and addr[0] == peer:
                return True
        return False


def set_route(lines: list[tuple[str, str]], live: list[bool]) -> None:
    hops = [f"nexthop via {peer} dev {dev} weight 1".split() for (dev, peer), ok in zip(lines, live) if ok]
    if not hops:  # nothing alive: keep the last route rather than black-holing everything
        return
    argv = ["ip", "route", "replace", "default"]
    for h in hops:
        argv += h
    subprocess.run(argv, check=False, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--line", action="append", required=True, help="DEV=PEER")
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--timeout", type=float, default=0.2)
    ap.add_argument("--misses", type=int, default=2)
    a = ap.parse_args()
    lines = [tuple(x.split("=", 1)) for x in a.line]
    live, misses = [True] * len(lines), [0] * len(lines)
    set_route(lines, live)
    ident, seq = os.getpid() & 0xFFFF, 0
    while True:
        t0 = time.monotonic()
        seq = (seq + 1) & 0xFFFF
        changed = False
        for i, (dev, peer) in enumerate(lines):
            ok = ping(dev, peer, ident, seq, a.timeout)
            misses[i] = 0 if ok else misses[i] + 1
            state = ok or misses[i] < a.misses
            if state != live[i]:
                live[i], changed = state, True
                print(f"{time.time():.3f} {dev} {'up' if state else 'down'}", flush=True)
        if changed:
            set_route(lines, live)
        time.sleep(max(0.0, a.interval - (time.monotonic() - t0)))


if __name__ == "__main__":
    main()
