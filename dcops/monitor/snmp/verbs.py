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
        """[(oid, value, ...)] of a GETBULK: the decoder's triples as they come (multi_walk reads the first two)."""
        return await self._request(ber.GETBULK, oids, 0, reps)

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


#: Ceiling of varbinds asked for in the GETBULK that the rows hint says ends a walk (x max_bulk_varbinds).
HINT_VARBINDS_FACTOR = 2


async def multi_walk(session, roots: list[str]) -> dict[str, object]:
    """Walk several table columns at once: one GETBULK carries every unfinished column.

    Bounded (an agent must not keep a poll forever): a column whose next OID does not increase
    stops it (as net-snmp's snmpwalk does), and the whole walk stops at `walk_max_rows` rows per
    column or `walk_max_requests` requests; what was read stays, the reason goes to
    `session.walk_warnings`. The poll's deadline bounds the time.

    A walk only ends when the agent hands back an OID past each column, which usually costs one more
    request than the rows need. Tables keep their size from one poll to the next, so the session
    remembers the rows of the last complete walk of these columns, and when the rows still to come
    fit in one answer (up to HINT_VARBINDS_FACTOR x max_bulk_varbinds varbinds), it asks for them plus
    one: a steady table is walked without that extra request. An agent answers a GETBULK too big for
    it with fewer varbinds (RFC 3416 §4.2.3) or with tooBig, on which the repetitions are halved."""
    out: dict[str, object] = {}
    cursor = {r: r for r in roots}
    cursor_key = {r: oid_key(r) for r in roots}
    prefix = {r: r + "." for r in roots}
    rows = dict.fromkeys(roots, 0)
    max_rows = getattr(session, "walk_max_rows", 2_000)
    max_requests = getattr(session, "walk_max_requests", 300)
    warnings = getattr(session, "walk_warnings", None)
    hints = getattr(session, "walk_rows_hint", None)
    if hints is None:
        hints = {}
        try:
            session.walk_rows_hint = hints
        except AttributeError:  # a session without attributes of its own: no hint
            pass
    hint_key = tuple(roots)
    hint = hints.pop(hint_key, None)  # kept again only if this walk ends normally
    limit = session.max_bulk_varbinds
    hint_limit = HINT_VARBINDS_FACTOR * limit
    requests = 0
    cut = False
    while cursor:
        if requests >= max_requests:
            _warn(warnings, f"walk of {', '.join(cursor)} stopped after {requests} requests (walk_max_requests)")
            cut = True
            break
        active = list(cursor)
        n = len(active)
        reps = max(1, limit // n)
        if hint is not None:
            left = hint - min(rows[r] for r in active) + 1  # the rows still to come, and the end of each column
            if reps < left and left * n <= hint_limit:
                reps = left
        requests += 1
        try:
            vbs = await session._bulk_once([cursor[r] for r in active], reps)
        except PduError as e:
            if e.status == 1 and reps > 1:  # tooBig: ask for fewer rows (and trust the hint no more)
                limit, hint = max(n, n * reps // 2), None
                hint_limit = limit
                continue
            raise
        done: set[str] = set()
        for i, vb in enumerate(vbs):
            oid, val = vb[0], vb[1]
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
                cut = True
                continue
            rows[root] += 1
            if rows[root] > max_rows:
                _warn(warnings, f"walk of {root} stopped after {max_rows} rows (walk_max_rows)")
                done.add(root)
                cut = True
                continue
            out[oid] = val
            cursor[root] = oid
            cursor_key[root] = key
        if not vbs:
            done.update(active)
        for r in done:
            cursor.pop(r, None)
    if not cut and len(hints) < 64:
        hints[hint_key] = max(rows.values(), default=0)
    return out


def _warn(warnings: list | None, text: str) -> None:
    if warnings is not None:
        warnings.append(text)
