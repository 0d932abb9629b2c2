"""Leased-line health checker for the Linux link balancer (runs on the device).

Probes the far-end router of every leased line with ICMP echo, sent out of
that line only (socket bound to the line's interface and address, policy
routing table per line). The default route is an ECMP route over the lines
that answer; a line that stays silent for `dead_after_ms` leaves it at once —
a line failing at the far end keeps its carrier, so only probes can tell — and
comes back after `recover_after` consecutive replies.

    python -m dcops.net.lbcheck --config kg-lb-01.lbcheck.yaml [--state state.json] [--once]

The state file (JSON, replaced atomically) records each line's status and
every transition with its time, which is how the lab measures failover.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from math import gcd

from ruamel.yaml import YAML


@dataclass
class LineState:
    name: str
    interface: str
    address: str
    gateway: str
    probe: str
    weight: int
    table: int
    ident: int
    sock: socket.socket | None = None
    up: bool = True
    last_reply: float = field(default_factory=time.monotonic)
    streak: int = 0
    seq: int = 0
    transitions: list = field(default_factory=list)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    payload = b"dcops-lbcheck"
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload


def _ip(*args: str) -> None:
    proc = subprocess.run(["ip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {proc.stderr.strip()}")


class Checker:
    def __init__(self, cfg: dict, state_path: str | None):
        self.cfg = cfg
        self.interval = cfg.get("interval_ms", 100) / 1000
        self.dead_after = cfg.get("dead_after_ms", 300) / 1000
        self.recover_after = int(cfg.get("recover_after", 5))
        self.state_path = state_path
        weights = [int(l.get("weight", 1)) for l in cfg["lines"]]
        g = 0
        for w in weights:
            g = gcd(g, w)
        base = os.getpid() & 0x7FFF
        self.lines = [LineState(l["name"], l["interface"], str(l["address"]), str(l["gateway"]),
                                str(l.get("probe", l["gateway"])), max(1, min(256, w // (g or 1))),
                                int(l["table"]), (base + i) & 0xFFFF)
                      for i, (l, w) in enumerate(zip(cfg["lines"], weights))]
        self.route = ""
        self.running = True

    # -- routing
    def setup(self) -> None:
        for i, ln in enumerate(self.lines):
            prio = str(1000 + i)
            subprocess.run(["ip", "rule", "del", "priority", prio], capture_output=True)
            _ip("rule", "add", "priority", prio, "from", ln.address, "table", str(ln.table))
            _ip("route", "replace", "default", "via", ln.gateway, "dev", ln.interface, "table", str(ln.table))
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ln.interface.encode())
            s.bind((ln.address, 0))
            s.setblocking(False)
            ln.sock = s
        for r in self.cfg.get("routes") or []:
            _ip("route", "replace", str(r["prefix"]), "via", str(r["via"]), *(["dev", str(r["dev"])] if r.get("dev") else []))
        self.apply_route()

    def apply_route(self) -> None:
        up = [ln for ln in self.lines if ln.up] or self.lines  # all down: keep trying every line
        if len(up) == 1:
            args = ["via", up[0].gateway, "dev", up[0].interface]
        else:
            args = []
            for ln in up:
                args += ["nexthop", "via", ln.gateway, "dev", ln.interface, "weight", str(ln.weight)]
        desc = " ".join(args)
        if desc != self.route:
            _ip("route", "replace", "default", *args)
            self.route = desc
            self.save()

    # -- probing
    def probe_round(self) -> None:
        for ln in self.lines:
            ln.seq = (ln.seq + 1) & 0xFFFF
            try:
                ln.sock.sendto(_echo(ln.ident, ln.seq), (ln.probe, 0))
            except OSError:
                pass  # e.g. no route: counts as a missing reply
        deadline = time.monotonic() + self.interval
        socks = {ln.sock: ln for ln in self.lines}
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select(list(socks), [], [], left)
            for s in ready:
                self._read(socks[s])
        self.evaluate()

    def _read(self, ln: LineState) -> None:
        while True:
            try:
                pkt, addr = ln.sock.recvfrom(2048)
            except BlockingIOError:
                return
            ihl = (pkt[0] & 0x0F) * 4
            if len(pkt) < ihl + 8:
                continue
            typ, _, _, ident, _ = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if typ == 0 and ident == ln.ident and addr[0] == ln.probe:
                ln.last_reply = time.monotonic()
                ln.streak += 1

    def evaluate(self) -> None:
        now = time.monotonic()
        changed = False
        for ln in self.lines:
            silent = now - ln.last_reply
            if ln.up and silent > self.dead_after:
                ln.up, ln.streak = False, 0
                ln.transitions.append({"to": "down", "at": time.time(), "silent_s": round(silent, 3)})
                changed = True
            elif not ln.up and silent > self.interval * 2:
                ln.streak = 0
            elif not ln.up and ln.streak >= self.recover_after:
                ln.up = True
                ln.transitions.append({"to": "up", "at": time.time()})
                changed = True
        if changed:
            self.apply_route()

    def save(self) -> None:
        if not self.state_path:
            return
        data = {"device": self.cfg.get("device"), "pid": os.getpid(), "route": self.route, "updated": time.time(),
                "lines": {ln.name: {"up": ln.up, "interface": ln.interface, "transitions": ln.transitions}
                          for ln in self.lines}}
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.state_path)

    def run(self, once: bool = False) -> None:
        self.setup()
        self.save()
        while self.running:
            self.probe_round()
            if once:
                break


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dcops.net.lbcheck", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--state")
    ap.add_argument("--once", action="store_true", help="set up routes, probe once, exit")
    a = ap.parse_args(argv)
    with open(a.config, encoding="utf-8") as f:
        cfg = YAML(typ="safe").load(f)
    checker = Checker(cfg, a.state)
    signal.signal(signal.SIGTERM, lambda *_: setattr(checker, "running", False))
    try:
        checker.run(a.once)
    except (RuntimeError, OSError) as e:
        print(f"lbcheck: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
