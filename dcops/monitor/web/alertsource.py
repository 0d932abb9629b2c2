"""Where the NOC page reads its alerts and silences: the embedded engine (the store) or Alertmanager.

In scale-out mode (`dcops dashboard --alertmanager URL`) the page shows what Prometheus fired and
Alertmanager holds — the same alerts the receivers are paged with — through Alertmanager's v2 API:
/api/v2/alerts (with silenced and inhibited ones, marked), /api/v2/silences (maintenance windows and
acknowledgements), POST /api/v2/silences and DELETE /api/v2/silence/ID. An acknowledgement is a silence
of that alert's exact labels whose comment starts with ACK_PREFIX, so a second NOC page, `amtool` or the
Alertmanager UI all see who took it.

When Alertmanager does not answer, the page never shows an empty, all-OK list: `health()` says so (a
banner on every page) and the alerts shown are the embedded engine's (the monitor evaluates its rules
either way), marked as such. Writes are never faked: a silence that Alertmanager did not store is an
error, not a local window that would silence nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass

import httpx

from .. import alerts as alerts_mod
from ..alerts.silences import GROUPS

ACK_PREFIX = "ACK: "
SEVERITY_ORDER = {"critical": 0, "warning": 1}


class SourceError(Exception):
    """The alert source did not do what was asked (Alertmanager unreachable or refusing)."""


@dataclass(frozen=True)
class Health:
    ok: bool
    kind: str  # "embedded" | "alertmanager"
    error: str = ""
    fallback: bool = False  # the alerts shown are the embedded engine's, not the configured source's


class EmbeddedSource:
    """The monitor's own engine: alerts and maintenance windows in the SQLite store."""

    kind = "embedded"

    def __init__(self, store) -> None:
        self.store = store

    def version(self) -> tuple:
        return ()

    def health(self) -> Health:
        return Health(True, self.kind)

    def active(self) -> list[dict]:
        return alerts_mod.active_alerts(self.store)

    def device_silence(self, device: str, kind: str) -> dict | None:
        return alerts_mod.silence_for(device, kind, alerts_mod.active_silences(self.store))

    def silences(self, now: float) -> list[dict]:
        return alerts_mod.silences(self.store, now)

    def add_silence(self, target: str, starts: float, ends: float, reason: str, author: str) -> str:
        return str(alerts_mod.add_silence(self.store, target, starts, ends, reason, author))

    def end_silence(self, sid: str, author: str) -> bool:
        return sid.isdigit() and alerts_mod.end_silence(self.store, int(sid), author)

    def acknowledge(self, alert_id: str, user: str, comment: str) -> bool:
        return alert_id.isdigit() and alerts_mod.acknowledge(self.store, int(alert_id), user, comment)


def _ts(iso: str | None) -> float | None:
    if not iso or iso.startswith("0001-"):
        return None
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _eq(name: str, value: str) -> dict:
    return {"name": name, "value": value, "isRegex": False, "isEqual": True}


def _group_kinds(group: str, kinds: set[str]) -> list[str]:
    """The device kinds of a page group (network = every kind the named groups do not take)."""
    named = dict(GROUPS)
    if group in named:
        return list(named[group])
    taken = {k for ks in named.values() for k in ks}
    return sorted(kinds - taken)


class AlertmanagerSource:
    """Alertmanager's v2 API; answers are cached for `ttl` seconds so one page view costs one request."""

    kind = "alertmanager"

    def __init__(self, url: str, store, *, site: str, only_site: bool = False, timeout: float = 3.0,
                 ttl: float = 2.0, ack_hours: float = 8.0) -> None:
        self.url = url.rstrip("/")
        self.store = store  # the device list (targets) and the fallback when Alertmanager is down
        self.site = site
        self.only_site = only_site  # a central Alertmanager holds every site's alerts: show this site's
        self.ttl = ttl
        self.ack_hours = ack_hours
        self.http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)
        self._lock = threading.Lock()
        self._cache: tuple[float, list, list, str] | None = None  # (when, alerts, silences, error)

    # ------------------------------------------------------------ reading
    def _fetch(self) -> tuple[list, list, str]:
        with self._lock:
            now = time.monotonic()
            if self._cache and now - self._cache[0] < self.ttl:
                return self._cache[1:]
            try:
                r = self.http.get("/api/v2/alerts", params={"active": "true", "silenced": "true",
                                                            "inhibited": "true", "unprocessed": "true"})
                r.raise_for_status()
                s = self.http.get("/api/v2/silences")
                s.raise_for_status()
                got = (r.json(), s.json(), "")
                if not isinstance(got[0], list) or not isinstance(got[1], list):
                    raise ValueError("unexpected answer (not a list)")
            except (httpx.HTTPError, ValueError) as e:
                got = ([], [], f"{self.url}: {type(e).__name__}: {e}")
            self._cache = (now, *got)
            return got

    def _invalidate(self) -> None:
        with self._lock:
            self._cache = None

    def version(self) -> tuple:
        alerts, sil, error = self._fetch()
        digest = hashlib.sha256(json.dumps([alerts, sil, error], sort_keys=True).encode()).hexdigest()[:16]
        return (digest,)

    def health(self) -> Health:
        error = self._fetch()[2]
        return Health(not error, self.kind, error, fallback=bool(error))

    def _silence_by_id(self) -> dict[str, dict]:
        return {s["id"]: s for s in self._fetch()[1] if isinstance(s, dict) and isinstance(s.get("id"), str)}

    def active(self) -> list[dict]:
        alerts, _sil, error = self._fetch()
        if error:  # never an empty list that reads as "all OK": the embedded engine's alerts, marked
            return [dict(a, fallback=True) for a in alerts_mod.active_alerts(self.store)]
        by_id = self._silence_by_id()
        out = []
        for a in alerts:
            if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
                continue
            lab = a["labels"]
            if self.only_site and lab.get("site", self.site) != self.site:
                continue
            ann = a.get("annotations", {})
            st = a.get("status", {})
            silencers = [by_id[i] for i in st.get("silencedBy", []) if i in by_id]
            acks = [s for s in silencers if s.get("comment", "").startswith(ACK_PREFIX)]
            out.append({
                "id": a.get("fingerprint", ""), "rule": lab.get("alertname", ""), "device": lab.get("device", ""),
                "severity": lab.get("severity", "warning"), "site": lab.get("site", ""),
                "summary_vi": ann.get("summary_vi") or ann.get("summary") or lab.get("alertname", ""),
                "summary_en": ann.get("summary") or lab.get("alertname", ""),
                "fired_at": _ts(a.get("startsAt")), "labels": lab,
                "acked_by": acks[0].get("createdBy") if acks else None,
                "ack_comment": acks[0]["comment"][len(ACK_PREFIX):] or None if acks else None,
                "silenced": len(silencers) > len(acks) or (bool(st.get("silencedBy")) and not silencers),
                "inhibited": bool(st.get("inhibitedBy")),
            })
        out.sort(key=lambda r: (SEVERITY_ORDER.get(r["severity"], 2), -(r["fired_at"] or 0)))
        return out

    def _maintenance(self) -> list[dict]:
        return [s for s in self._silence_by_id().values()
                if s.get("status", {}).get("state") == "active" and not s.get("comment", "").startswith(ACK_PREFIX)]

    @staticmethod
    def _matches(silence: dict, labels: dict) -> bool:
        for m in silence.get("matchers", []):
            v = labels.get(m["name"], "")
            try:  # Alertmanager's regexes are RE2; the common subset reads the same in Python
                hit = re.fullmatch(m["value"], v) is not None if m.get("isRegex") else v == m["value"]
            except re.error:
                hit = False
            if hit != m.get("isEqual", True):
                return False
        return True

    def device_silence(self, device: str, kind: str) -> dict | None:
        labels = {"device": device, "kind": kind, "site": self.site}
        for s in self._maintenance():
            names = {m["name"] for m in s.get("matchers", [])}
            if names <= set(labels) and self._matches(s, labels):
                return {"reason": s.get("comment", ""), "id": s["id"]}
        return None

    def _target_of(self, s: dict) -> str:
        ms = {m["name"]: m for m in s.get("matchers", []) if m.get("isEqual", True)}
        if len(ms) == len(s.get("matchers", [])):
            if set(ms) == {"device"} and not ms["device"]["isRegex"]:
                return "device:" + ms["device"]["value"]
            if set(ms) == {"device", "site"} and not any(m["isRegex"] for m in ms.values()) \
                    and ms["site"]["value"] == self.site:
                return "device:" + ms["device"]["value"]
            if set(ms) == {"site"} and not ms["site"]["isRegex"] and ms["site"]["value"] == self.site:
                return "*"
            if set(ms) == {"site", "kind"}:
                for group, _ in (*GROUPS, ("network", ())):
                    if ms["kind"]["value"] == "|".join(_group_kinds(group, self._kinds())):
                        return "group:" + group
        return ", ".join(f'{m["name"]}{"=~" if m.get("isRegex") else "="}{m["value"]}'
                         if m.get("isEqual", True) else f'{m["name"]}!{"~" if m.get("isRegex") else "="}{m["value"]}'
                         for m in s.get("matchers", []))

    def silences(self, now: float) -> list[dict]:
        out = []
        for s in self._silence_by_id().values():
            state = s.get("status", {}).get("state")
            ends = _ts(s.get("endsAt")) or now
            if state == "expired" and ends < now - 7 * 86400:
                continue
            out.append({"id": s["id"], "target": self._target_of(s), "starts": _ts(s.get("startsAt")), "ends": ends,
                        "reason": s.get("comment", ""), "author": s.get("createdBy", ""),
                        "ack": s.get("comment", "").startswith(ACK_PREFIX)})
        out.sort(key=lambda r: -(r["starts"] or 0))
        return out

    # ------------------------------------------------------------ writing (errors are raised, never hidden)
    def _kinds(self) -> set[str]:
        return set(alerts_mod.device_kinds(self.store).values()) - {""}

    def _matchers(self, target: str) -> list[dict]:
        if target == "*":
            if not self.site:
                raise ValueError("the site is unknown (no inventory): silence a device or a group")
            return [_eq("site", self.site)]
        what, _, name = target.partition(":")
        if what == "device":  # two sites may both have a kg-ups-01
            return [_eq("device", name), *([_eq("site", self.site)] if self.site else [])]
        kinds = _group_kinds(name, self._kinds())
        if not kinds:
            raise ValueError(f"no device of group {name}")
        return [_eq("site", self.site), {"name": "kind", "value": "|".join(kinds), "isRegex": True, "isEqual": True}]

    def _post_silence(self, matchers: list[dict], starts: float, ends: float, comment: str, author: str) -> str:
        body = {"matchers": matchers, "startsAt": _iso(starts), "endsAt": _iso(ends), "createdBy": author,
                "comment": comment}
        return self._change("POST", "/api/v2/silences", json=body).json()["silenceID"]

    def _change(self, method: str, path: str, **kw) -> httpx.Response:
        """A write to Alertmanager: any transport error or non-200 answer is a SourceError naming it, and the
        cached view is dropped either way (the change may have landed even if the answer was lost)."""
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise SourceError(f"{self.url}: {type(e).__name__}: {e}") from e
        finally:
            self._invalidate()
        if r.status_code != 200:
            raise SourceError(f"{self.url}: HTTP {r.status_code}: {r.text.strip()[:300]}")
        return r

    def add_silence(self, target: str, starts: float, ends: float, reason: str, author: str) -> str:
        if ends <= starts:
            raise ValueError("a maintenance window must end after it starts")
        if not reason.strip():
            raise ValueError("a maintenance window needs a reason")
        sid = self._post_silence(self._matchers(target), starts, ends, reason.strip()[:300], author)
        self.store.event("silence", None, f"{author}: Alertmanager silence {sid} on {target}: {reason.strip()[:300]}")
        return sid

    def end_silence(self, sid: str, author: str) -> bool:
        if sid not in self._silence_by_id():
            return False
        self._change("DELETE", f"/api/v2/silence/{sid}")
        self.store.event("silence", None, f"{author} expired Alertmanager silence {sid}")
        return True

    def acknowledge(self, alert_id: str, user: str, comment: str = "") -> bool:
        """A silence of exactly this alert's labels for `ack_hours`: the receivers stop being paged."""
        self._invalidate()
        alerts, _sil, error = self._fetch()
        if error:
            raise SourceError(error)
        alert = next((a for a in alerts if a.get("fingerprint") == alert_id), None)
        if alert is None:
            return False
        now = time.time()
        matchers = [_eq(k, v) for k, v in sorted(alert["labels"].items())]
        sid = self._post_silence(matchers, now, now + self.ack_hours * 3600, ACK_PREFIX + comment.strip()[:500], user)
        self.store.event("ack", None, f"{alert['labels'].get('alertname')} on {alert['labels'].get('device', '?')} "
                                      f"acknowledged by {user} (Alertmanager silence {sid})")
        return True


def make_source(store, alertmanager: str | None, *, site: str | None = None, **kw):
    if not alertmanager:
        return EmbeddedSource(store)
    only_site = site is not None
    if site is None:
        try:
            import dcops
            from dcops.model import load_inventory
            site = load_inventory(dcops.DEFAULT_INVENTORY, dr_ok=True).site.code  # a DR site's page: kg-dr
        except Exception:  # noqa: BLE001 - a page without the inventory still works, matched on device
            site = ""
    return AlertmanagerSource(alertmanager, store, site=site, only_site=only_site, **kw)
