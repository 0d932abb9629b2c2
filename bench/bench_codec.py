#!/usr/bin/env python3
"""In-process micro-benchmark of the SNMP answer path: CPU time per varbind to accept a GETBULK response.

No sockets, no agents: realistic responses (48 ifTable/ifXTable-like varbinds) are encoded once, then
the sessions' own `_accept` (every check: community / msgFlags level, HMAC, user, engine ID, msgID,
time window, PDU type, request-id, and the full BER decode) runs on them many times. CPU time
(time.process_time), so the figure is fair on a loaded machine.

    python bench/bench_codec.py               # µs per varbind, v2c and v3 authPriv (SHA-256 / AES-128)
    python bench/bench_codec.py --profile v3  # cProfile of the v3 path
    python bench/bench_codec.py --no-record   # trial run: leave bench/results/bench_codec.json alone
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import record  # noqa: E402  (bench/_results.py, beside this script)

from dcops.monitor.snmp import ber  # noqa: E402
from dcops.monitor.snmp.errors import Credentials  # noqa: E402
from dcops.monitor.snmp.usm import V3FastSession  # noqa: E402
from dcops.monitor.snmp.v2c import V2cSession  # noqa: E402

VARBINDS = 48
RID = 123_456_789


def if_table(n: int = VARBINDS) -> tuple[list[str], list]:
    """n varbinds of a 12-column ifTable/ifXTable GETBULK answer (column-major per repetition)."""
    cols = [(2, lambda i: (ber.T_OCTETS, f"GigabitEthernet0/{i}".encode())), (3, lambda i: (ber.T_INT, 6)),
            (4, lambda i: (ber.T_INT, 1500)), (5, lambda i: (ber.T_GAUGE32, 1_000_000_000)),
            (6, lambda i: (ber.T_OCTETS, bytes((0, 0x1B, 0x21, 0x3A, i & 0xFF, 0x5C)))),
            (7, lambda i: (ber.T_INT, 1)), (8, lambda i: (ber.T_INT, 1)),
            (9, lambda i: (ber.T_TIMETICKS, 123_456)), (10, lambda i: (ber.T_COUNTER32, 3_987_654_321 - i)),
            (14, lambda i: (ber.T_COUNTER32, 17 + i)), (16, lambda i: (ber.T_COUNTER32, 2_123_456_789 + i)),
            (20, lambda i: (ber.T_COUNTER32, i))]
    oids, values = [], []
    rep = 1
    while len(oids) < n:
        for col, val in cols:
            if len(oids) == n:
                break
            oids.append(f"1.3.6.1.2.1.2.2.1.{col}.{rep}")
            values.append(val(rep))
        rep += 1
    return oids, values


def v2c_case():
    s = V2cSession("127.0.0.1", 161, "bench-public")
    oids, values = if_table()
    raw = ber.encode_message(1, s.community, ber.encode_pdu(ber.RESPONSE, RID, oids, 0, 0, values))
    return (lambda: s._accept(RID, raw)), raw


def v3_case():
    creds = Credentials(version="3", user="bench", auth_protocol="SHA256", auth_key="bench-auth-pass",
                        priv_protocol="AES", priv_key="bench-priv-pass")
    s = V3FastSession("127.0.0.1", 161, creds)
    s._set_engine(bytes.fromhex("80001f8880a1b2c3d4e5f60718"), 7, 1000)
    oids, values = if_table()
    # The agent's answer has the request's layout: build it with the session's own encoder (same keys).
    raw = s._build(RID, ber.encode_pdu(ber.RESPONSE, RID, oids, 0, 0, values), b"")
    return (lambda: s._accept(RID, b"", raw)), raw


def measure(fn, seconds: float = 1.5) -> float:
    """CPU µs per varbind over repeated runs (best of 15 slices: the least disturbed by other work)."""
    res = fn()
    assert len(res[2]) == VARBINDS, res
    best = float("inf")
    for _ in range(15):
        n = 0
        t0 = time.process_time()
        while True:
            for _ in range(200):
                fn()
            n += 200
            t = time.process_time() - t0
            if t >= seconds / 15:
                break
        best = min(best, t / n / VARBINDS * 1e6)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=("v2c", "v3"))
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--no-record", action="store_true", help="do not write bench/results/bench_codec.json")
    a = ap.parse_args()
    cases = {"v2c": v2c_case, "v3": v3_case}
    if a.profile:
        fn, _raw = cases[a.profile]()
        pr = cProfile.Profile()
        pr.enable()
        for _ in range(3000):
            fn()
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(15)
        return
    res = {}
    for name, case in cases.items():
        fn, raw = case()
        res[name] = measure(fn, a.seconds)
        print(f"{name:4} accept+decode {res[name]:6.3f} µs CPU per varbind ({len(raw)} B message, {VARBINDS} varbinds)")
    print(f"v3 / v2c: {res['v3'] / res['v2c']:.2f}")
    if not a.no_record:
        path = record("bench_codec", {"varbinds": VARBINDS, "v2c_us_per_varbind": round(res["v2c"], 3),
                                      "v3_us_per_varbind": round(res["v3"], 3)},
                      notes="CPU time (process_time) of the sessions' accept + decode of one GETBULK response, best "
                            "of 15 slices; v3 = authPriv SHA-256/AES-128 with every check")
        print(f"figures written to {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
