"""The scale-out stack's configuration, generated from the same inventory and monitors/ as the embedded
monitor: prometheus.yml (scrape of the dcops exporter, labels), rules/dcops-alerts.yml (the embedded
engine's rules, see export.py) and alertmanager.yml (routes by site, then severity and security level;
grouping, inhibition, receivers per site).

Nothing here holds a secret in git: receivers' secrets are resolved from the references in alerts.yaml
when the bundle is generated (into a folder outside the repository, files mode 0600), and a receiver
whose secret is not set is left out with a warning instead of being written half-configured.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .alerts import RuleSet
from .export import alert_name, prometheus_rules
from .targets import SecretError, resolve_secret

RULES_FILE = "rules/dcops-alerts.yml"

#: (source alert, target alert, labels that must be equal): the source explains the target.
INHIBITIONS = (
    # mains failure: what the UPS feeds stops answering; page about the UPS, not about every device
    ("ups_on_battery", "device_unreachable", ("site",)),
    # a line that is down carries no traffic: its utilisation alert says nothing new
    ("leased_line_down", "leased_line_utilisation_high", ("site", "line")),
)


@dataclass
class Bundle:
    files: dict[str, str]  # relative path -> text
    warnings: list[str] = field(default_factory=list)
    secret_files: set[str] = field(default_factory=set)


#: the `system` label of a device that serves every system of its site (UPS, cooling, perimeter firewall)
SHARED_SYSTEM = "shared"
#: Decree 85 levels whose critical alerts take the stricter route (shorter repeat)
HIGH_LEVELS = (3, 4, 5)


def site_systems(inv, invs=()) -> tuple:
    """The information systems a site runs: its inventory's own, or for a DR site (site.role: dr) the systems
    of its production site that must run at DR (`dr_required`) — the DR inventory holds no copy of them."""
    if inv.site.role != "dr":
        return inv.systems
    primary = next((i for i in invs if i.site.code == inv.site.primary and i.site.role != "dr"), None)
    if primary is None:
        raise ValueError(f"site {inv.site.code} is the DR site of {inv.site.primary}: its systems (and so its "
                         f"devices' security level) are {inv.site.primary}'s; give that inventory too (--inventory)")
    return tuple(s for s in primary.systems if s.dr_required)


def device_labels(inv, systems=None) -> dict[str, dict[str, str]]:
    """Per monitored device: `kind`, `system` and `level` (its Decree 85 security level).

    A device dedicated to one system (`system:` in the inventory) carries that system and its level; a
    device every system of the site depends on carries `system="shared"` and the highest level among the
    site's systems — a UPS failing takes the level-3 systems down with the others. `systems`: the site's
    systems when they are not the inventory's own (a DR site's, see `site_systems`)."""
    levels = {s.name: s.security_level for s in (inv.systems if systems is None else systems)}
    top = max(levels.values(), default=1)
    out = {}
    for d in (*inv.facility, *inv.network_devices):
        if getattr(d, "snmp", None) is not None:
            system = getattr(d, "system", None)
            out[d.name] = {"kind": str(getattr(d.kind, "value", d.kind)), "system": system or SHARED_SYSTEM,
                           "level": str(levels[system] if system else top)}
    return out


def prometheus_config(inv, *, exporters: list[str], alertmanagers: list[str], scrape_interval: str = "15s",
                      evaluation_interval: str = "15s", remote_write: list[str] = (), site: str | None = None,
                      systems=None) -> dict:
    """One site's Prometheus. With `remote_write` (a central VictoriaMetrics' /api/v1/write) every series
    leaves the site carrying `site`, so one query spans the province — or 63 of them."""
    site = site or inv.site.code
    relabel = []
    for dev, labels in sorted(device_labels(inv, systems).items()):
        for key, value in sorted(labels.items()):
            relabel.append({"source_labels": ["device"], "regex": dev, "target_label": key, "replacement": value})
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval,
                   "external_labels": {"site": site}},
        "rule_files": [RULES_FILE],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": alertmanagers}]}]} if alertmanagers else {},
        "scrape_configs": [{
            "job_name": "dcops",
            "honor_labels": True,  # `device` is the exporter's, never the scrape target's
            "static_configs": [{"targets": exporters, "labels": {"site": site}}],
            "metric_relabel_configs": relabel,
        }],
        **({"remote_write": [{"url": url} for url in remote_write]} if remote_write else {}),
    }


class _Transports:
    """alerts.yaml's `notify:` transports (SMTP relay and sender, the Telegram bot), each secret resolved once
    however many sites use it; one whose secret is not set is left out with one warning."""

    def __init__(self, n, warnings: list[str]):
        self.n, self.warnings, self.has_secret = n, warnings, False
        self._email: dict | None | bool = False  # False: not resolved yet
        self._token: str | None | bool = False

    def email(self) -> dict | None:
        """The e-mail config without `to`."""
        if self._email is False:
            n = self.n.email
            cfg = {"from": n.sender, "smarthost": f"{n.smtp_host}:{n.smtp_port}", "require_tls": n.starttls,
                   "send_resolved": True}
            try:
                password = resolve_secret(n.password_ref)
            except SecretError as e:
                self.warnings.append(f"e-mail receiver left out: {e}")
                cfg = None
            else:
                if n.username:
                    cfg.update(auth_username=n.username, auth_password=password)
                    self.has_secret = True
            self._email = cfg
        return self._email

    def telegram_token(self) -> str | None:
        if self._token is False:
            try:
                self._token = resolve_secret(self.n.telegram.token_ref)
            except SecretError as e:
                self.warnings.append(f"Telegram receiver left out: {e}")
                self._token = None
            else:
                if self._token is None:
                    self.warnings.append("Telegram receiver left out: notify.telegram.token_ref is not set")
                self.has_secret = self._token is not None or self.has_secret
        return self._token


def _recipients(site_value, enabled: bool, default) -> tuple:
    """A site's recipients of one channel: its own when its site.yaml names them, else alerts.yaml's."""
    if site_value is not None:
        return tuple(site_value)
    return tuple(default) if enabled else ()


def _configs(t: _Transports, override=None) -> dict:
    """The *_configs of one receiver: alerts.yaml's recipients, or those a site's `notify:` (site.yaml) gives."""
    n = t.n
    email_to = _recipients(getattr(override, "email_to", None), n.email.enabled, n.email.to)
    chats = _recipients(getattr(override, "telegram_chat_ids", None), n.telegram.enabled, n.telegram.chat_ids)
    url = getattr(override, "webhook_url", None) or (n.webhook.url if n.webhook.enabled else None)
    email, webhook, telegram = [], [], []
    if email_to and (cfg := t.email()) is not None:
        email.append({"to": ", ".join(email_to), **cfg})
    if url:
        webhook.append({"url": url, "send_resolved": True})
    if chats and (token := t.telegram_token()) is not None:
        for chat in chats:  # Alertmanager 0.25: one telegram_config per chat, chat_id an integer
            telegram.append({"bot_token": token, "chat_id": int(chat), "api_url": n.telegram.api_base,
                             "message": '{{ range .Alerts }}{{ .Annotations.summary_vi }}\n{{ end }}',
                             "parse_mode": "", "send_resolved": True})
    return {k: v for k, v in (("email_configs", email), ("webhook_configs", webhook),
                              ("telegram_configs", telegram)) if v}


#: the three receivers of a site (and of the catch-all), from the mildest: the severity/level routes below
RECEIVERS = ("noc", "noc-critical", "noc-critical-high-level")


def _severity_routes(prefix: str) -> list[dict]:
    return [
        # Decree 85 level 3 and above: the same people, reminded twice as often until it is handled
        {"matchers": ['severity="critical"', f'level=~"{"|".join(map(str, HIGH_LEVELS))}"'],
         "receiver": f"{prefix}noc-critical-high-level", "group_wait": "10s", "group_interval": "1m",
         "repeat_interval": "30m"},
        {"matchers": ['severity="critical"'], "receiver": f"{prefix}noc-critical",
         "group_wait": "10s", "group_interval": "1m", "repeat_interval": "1h"},
    ]


def alertmanager_config(rules: RuleSet, warnings: list[str] | None = None, sites=()) -> tuple[dict, bool]:
    """Routes by site, then by severity and Decree 85 level. `sites`: (site code, its site.yaml `notify:` or
    None) — each site gets its own route and receivers `<code>-noc`, `<code>-noc-critical`,
    `<code>-noc-critical-high-level` (its own recipients, or alerts.yaml's); an alert without a known `site`
    takes the catch-all `noc`, `noc-critical`, `noc-critical-high-level` (alerts.yaml's recipients)."""
    warnings = [] if warnings is None else warnings
    by_name = {r.name: r for r in rules.rules}
    inhibit = []
    for src, dst, equal in INHIBITIONS:
        if src in by_name and dst in by_name:
            inhibit.append({"source_matchers": [f'alertname="{alert_name(by_name[src])}"'],
                            "target_matchers": [f'alertname=~"{alert_name(by_name[dst])}(_.*)?"'],
                            "equal": list(equal)})
        else:
            warnings.append(f"inhibition {src} → {dst} left out: no such rule")
    t = _Transports(rules.notify, warnings)
    default = _configs(t)
    if not default:
        warnings.append("no receiver is enabled in monitors/alerts.yaml notify: alerts are routed nowhere")
    receivers = [{"name": r, **default} for r in RECEIVERS]
    site_routes = []
    for code, override in sites:
        own = default if override is None else _configs(t, override)
        if override is not None and not own:
            warnings.append(f"site {code}: no receiver is left by its notify: in site.yaml: its alerts are "
                            "routed nowhere")
        receivers += [{"name": f"{code}-{r}", **own} for r in RECEIVERS]
        site_routes.append({"matchers": [f'site="{code}"'], "receiver": f"{code}-noc",
                            "routes": _severity_routes(f"{code}-")})
    return {
        "route": {
            "receiver": "noc",
            "group_by": ["site", "alertname"],
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
            # a known site's alerts stop at its route; the severity routes after them take a series without one
            "routes": [*site_routes, *_severity_routes("")],
        },
        "inhibit_rules": inhibit,
        "receivers": receivers,
    }, t.has_secret


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=200)


def bundle(inv, rules: RuleSet, *, exporters: list[str], alertmanagers: list[str],
           scrape_interval: str = "15s", evaluation_interval: str = "15s", remote_write: list[str] = (),
           site: str | None = None, systems=None, with_alertmanager: bool = True) -> Bundle:
    """One site's files. A DR site's inventory needs `systems` (see `site_systems`): ValueError without.
    `with_alertmanager=False`: its Prometheus and rules only (several sites share one, `multi_site_bundle`)."""
    if systems is None:
        systems = site_systems(inv)
    warnings: list[str] = []
    b = Bundle({
        "prometheus.yml": _dump(prometheus_config(inv, exporters=exporters, alertmanagers=alertmanagers,
                                                  scrape_interval=scrape_interval,
                                                  evaluation_interval=evaluation_interval,
                                                  remote_write=remote_write, site=site, systems=systems)),
        RULES_FILE: _dump(prometheus_rules(rules)),
    }, warnings)
    if with_alertmanager:
        am, secret = alertmanager_config(rules, warnings, sites=[(site or inv.site.code, inv.site.notify)])
        b.files["alertmanager.yml"] = _dump(am)
        if secret:
            b.secret_files.add("alertmanager.yml")
    return b


def parse_site_addresses(values: list[str], sites: list[str], default: list[str], what: str) -> dict[str, list[str]]:
    """`HOST:PORT` (every site) or `SITE=HOST:PORT` (that site) → {site: [HOST:PORT, …]}; sites left without an
    address get `default`. An unknown site is an error, not a silently unused address."""
    out: dict[str, list[str]] = {s: [] for s in sites}
    common = []
    for v in values:
        site, sep, addr = v.partition("=")
        if not sep:
            common.append(v)
        elif site not in out:
            raise ValueError(f"{what} {v!r}: no site {site!r} (sites: {', '.join(sites)})")
        else:
            out[site].append(addr)
    return {s: out[s] or common or list(default) for s in sites}


def federation_config(prometheus_by_site: dict[str, list[str]], scrape_interval: str = "30s") -> dict:
    """A central Prometheus that federates every site's dcops series and ALERTS (the sites evaluate the rules
    and page; the centre only looks, so no rule file and no Alertmanager here: nothing fires twice)."""
    jobs = []
    for site, targets in sorted(prometheus_by_site.items()):
        jobs.append({"job_name": f"federate-{site}", "honor_labels": True, "metrics_path": "/federate",
                     "params": {"match[]": ['{__name__=~"dcops_.+"}', '{__name__="ALERTS"}']},
                     "static_configs": [{"targets": targets, "labels": {"site": site}}]})
    return {"global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
            "scrape_configs": jobs}


def multi_site_bundle(invs: list, rules: RuleSet, *, exporters: dict[str, list[str]], alertmanagers: list[str],
                      federate: dict[str, list[str]] | None = None, scrape_interval: str = "15s",
                      evaluation_interval: str = "15s", remote_write: list[str] = ()) -> Bundle:
    """One folder per site (its Prometheus and rules, alerting to the shared Alertmanagers, optionally
    remote-writing to a central store) and `central/` (the one Alertmanager config; a federating Prometheus
    when the sites' Prometheus addresses are given). Same-named devices at two sites stay apart by `site`."""
    codes = [inv.site.code for inv in invs]
    dup = sorted({c for c in codes if codes.count(c) > 1})
    if dup:
        raise ValueError(f"two inventories describe the same site {dup[0]!r}: give each its own site.code")
    files, warnings, secret = {}, [], set()
    for inv in invs:
        b = bundle(inv, rules, exporters=exporters[inv.site.code], alertmanagers=alertmanagers,
                   scrape_interval=scrape_interval, evaluation_interval=evaluation_interval,
                   remote_write=remote_write, systems=site_systems(inv, invs), with_alertmanager=False)
        code = inv.site.code
        files[f"{code}/prometheus.yml"] = b.files["prometheus.yml"]
        files[f"{code}/{RULES_FILE}"] = b.files[RULES_FILE]
        warnings += b.warnings
    # one Alertmanager for every site: a route and receivers per site (its site.yaml notify:, or alerts.yaml's)
    am, has_secret = alertmanager_config(rules, warnings, sites=[(inv.site.code, inv.site.notify) for inv in invs])
    files["central/alertmanager.yml"] = _dump(am)
    if has_secret:
        secret.add("central/alertmanager.yml")
    if federate:
        files["central/prometheus.yml"] = _dump(federation_config(federate))
    elif not remote_write:
        warnings.append("no central view: give --remote-write (VictoriaMetrics) or --federate SITE=HOST:PORT")
    return Bundle(files, warnings, secret)


def write(b: Bundle, out: Path) -> list[Path]:
    """All files or none: written beside their final place, then renamed one by one."""
    out.mkdir(parents=True, exist_ok=True)
    staged = []
    try:
        for rel, text in b.files.items():
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o600 if rel in b.secret_files else 0o644)
            staged.append((Path(tmp), dest))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, dest in staged:
        tmp.replace(dest)
    return [dest for _, dest in staged]
