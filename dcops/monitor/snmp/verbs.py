"""GET / GETBULK walk / SET over a session's `_request`: batching shared by the v2c and v3 sessions."""
from __future__ import annotations

from . import ber
from .ber import ABSENT
from .errors import PduError


class PduVerbs:
    """GET/GETBULK/walk/SET over a session's `_request` (the v2c and v3 codecs differ only there)."""

    async def get(self, oids: list[str]) -> dict[str, object]:
        return await batched_get(self, oids)

    async def _get_once(self, oids: list[str]) -> dict[str, object]:
        return {oid: val for oid, val, _t in await self._request(ber.GET, oids)}

    async def _bulk_once(self, oids: list[str], reps: int) -> list:
        return [(o, v) for o, v, _t in await self._request(ber.GETBULK, oids, 0, reps)]

    async def walk(self, roots: list[str]) -> dict[str, object]:
        return await multi_walk(self, roots)

    async def set(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        vbs = await self._request(ber.SET, [o for o, _ in pairs], values=[v for _, v in pairs])
        return {o: v for o, v, _t in vbs}

    def close(self) -> None:
        pass


async def batched_get(session, oids: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    size = session.max_get
    chunks = [oids[i:i + size] for i in range(0, len(oids), size)]
    while chunks:
        chunk = chunks.pop()
        try:
            out.update(await session._get_once(chunk))
        except PduError as e:
            if e.status == 1 and len(chunk) > 1:  # tooBig: halve the batch
                half = len(chunk) // 2
                chunks += [chunk[:half], chunk[half:]]
            elif e.status == 2 and len(chunk) > 1:  # v1-style noSuchName: drop the culprit
                bad = chunk[e.index - 1] if 0 < e.index <= len(chunk) else None
                out[bad] = ABSENT
                chunks.append([o for o in chunk if o != bad])
            elif e.status == 2:
                out[chunk[0]] = ABSENT
            else:
                raise
    return out


_KEYS: dict[str, tuple[int, ...]] = {}


def oid_key(oid: str) -> tuple[int, ...]:
    """Numeric sort key of a dotted OID (cached: the same OIDs come back every cycle)."""
    k = _KEYS.get(oid)
    if k is None:
        k = tuple(map(int, oid.split(".")))
        if len(_KEYS) < 500_000:
            _KEYS[oid] = k
    return k


async def multi_walk(session, roots: list[str]) -> dict[str, object]:
    """Walk several table columns at once: one GETBULK carries every unfinished column.

    Bounded (an agent must not keep a poll forever): a column whose next OID does not increase
    stops it (as net-snmp's snmpwalk does), and the whole walk stops at `walk_max_rows` rows per
    column or `walk_max_requests` requests; what was read stays, the reason goes to
    `session.walk_warnings`. The poll's deadline bounds the time."""
    out: dict[str, object] = {}
    cursor = {r: r for r in roots}
    cursor_key = {r: oid_key(r) for r in roots}
    prefix = {r: r + "." for r in roots}
    rows = dict.fromkeys(roots, 0)
    max_rows = getattr(session, "walk_max_rows", 2_000)
    max_requests = getattr(session, "walk_max_requests", 300)
    warnings = getattr(session, "walk_warnings", None)
    requests = 0
    while cursor:
        if requests >= max_requests:
            _warn(warnings, f"walk of {', '.join(cursor)} stopped after {requests} requests (walk_max_requests)")
            break
        active = list(cursor)
        reps = max(1, session.max_bulk_varbinds // len(active))
        vbs = await session._bulk_once([cursor[r] for r in active], reps)
        requests += 1
        n = len(active)
        done: set[str] = set()
        for i, (oid, val) in enumerate(vbs):
            root = active[i % n]
            if root in done:
                continue
            if val is ABSENT or not oid.startswith(prefix[root]):
                done.add(root)  # left the column, or end of MIB
                continue
            key = oid_key(oid)
            if key <= cursor_key[root]:
                _warn(warnings, f"walk of {root} stopped: the agent returned {oid} after {cursor[root]} "
                                "(OID not increasing)")
                done.add(root)
                continue
            rows[root] += 1
            if rows[root] > max_rows:
                _warn(warnings, f"walk of {root} stopped after {max_rows} rows (walk_max_rows)")
                done.add(root)
                continue
            out[oid] = val
            cursor[root] = oid
            cursor_key[root] = key
        if not vbs:
            done.update(active)
        for r in done:
            cursor.pop(r, None)
    return out


def _warn(warnings: list | None, text: str) -> None:
    if warnings is not None:
        warnings.append(text)
