"""CLI verbs: `dcops monitor`, `dcops snmp probe|sim`, `dcops dashboard`, `dcops dashboard-user`."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from dcops.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[red]error:[/] {msg}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _inventory(path: Optional[Path]):
    import dcops
    from dcops.model import load_inventory
    try:
        return load_inventory(path or dcops.DEFAULT_INVENTORY, dr_ok=True)  # a DR site runs its own monitor
    except Exception as e:  # noqa: BLE001 - InventoryInvalid and friends: one line
        _fail(f"inventory: {str(e).splitlines()[0]}", 2)


def _targets(inventory: Optional[Path], sim: Optional[Path]):
    from .sim import read_targets
    from .targets import SecretError, apply_sim, targets_from_inventory
    inv = _inventory(inventory)
    try:
        if sim:
            if not sim.exists():
                _fail(f"simulator targets file {sim} does not exist (start `dcops snmp sim` first)", 2)
            return apply_sim(targets_from_inventory(inv, resolve=False), read_targets(sim)), inv
        return targets_from_inventory(inv), inv
    except SecretError as e:
        _fail(str(e), 2)


def monitor(
    inventory: Optional[Path] = typer.Option(None, help="Inventory folder (default: the shipped one)."),
    sim: Optional[Path] = typer.Option(None, help="Simulator targets file: poll the simulated agents instead "
                                                  "of inventory addresses."),
    db: Optional[Path] = typer.Option(None, help="SQLite database (default $DCOPS_STATE_DIR/monitor.db)."),
    interval: float = typer.Option(30.0, help="Poll interval, seconds."),
    timeout: float = typer.Option(2.0, help="Per-request timeout, seconds."),
    retries: int = typer.Option(1, help="Retries per request."),
    deadline: Optional[float] = typer.Option(None, help="Per-device deadline of a whole poll, seconds "
                                                        "(default: 0.8 x interval at most)."),
    concurrency: int = typer.Option(64, help="Devices polled at once."),
    trap_port: int = typer.Option(1162, help="UDP port of the trap receiver (0: disabled)."),
    trap_host: str = typer.Option("127.0.0.1", help="Address of the trap receiver."),
    metrics_port: int = typer.Option(9118, help="TCP port of /metrics (0: disabled)."),
    metrics_host: str = typer.Option("127.0.0.1", help="Address of /metrics."),
    rules: Optional[Path] = typer.Option(None, help="Alert rules YAML (default monitors/alerts.yaml)."),
    trap_engine_id: list[str] = typer.Option([], help="Engine id (hex) of a device sending SNMPv3 traps "
                                                       "(repeatable; informs need none)."),
    shard: Optional[str] = typer.Option(None, help="I/N: poll only shard I of N (stable by device name); run N "
                                                   "monitors for a large site."),
    textfile_dir: Optional[Path] = typer.Option(None, "--textfile-dir", help="Read every *.prom file here each "
                                                "cycle as one device's readings (node_exporter textfile style, "
                                                "e.g. `dcops backup metrics --textfile`)."),
    once: bool = typer.Option(False, help="Poll every device once, store, evaluate alerts, and exit."),
    as_json: bool = typer.Option(False, "--json", help="With --once: print the poll results as JSON."),
) -> None:
    """Poll the facility over SNMP, receive traps, raise alerts, keep history, serve /metrics."""
    from .alerts import RulesError, load_rules
    from .service import MonitorConfig, MonitorService, default_db
    from .sim import SIM_AUTH_KEY, SIM_PRIV_KEY, SIM_TRAP_ENGINE_ID, SIM_USER
    from .traps import TrapUser

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    targets, inv = _targets(inventory, sim)
    if shard:
        import zlib
        try:
            i, n = (int(x) for x in shard.split("/"))
            if not 0 <= i < n:
                raise ValueError
        except ValueError:
            _fail(f"--shard wants I/N with 0 <= I < N, got {shard!r}", 2)
        targets = [t for t in targets if zlib.crc32(t.name.encode()) % n == i]
    if not targets:
        _fail("no device to poll (no SNMP settings in the inventory, or none simulated)", 2)
    try:
        ruleset = load_rules(rules)
    except RulesError as e:
        _fail(str(e), 2)
    communities = tuple({t.creds.community for t in targets if t.creds.version == "2c" and t.creds.community})
    users: dict = {}
    for t in targets:
        c = t.creds
        if c.version == "3" and c.user and c.auth_key and c.priv_key:
            users[(c.user, c.auth_key, c.priv_key, c.auth_protocol, c.priv_protocol)] = True
    trap_users = [TrapUser(u, a, p, ap, pp, engine_ids=tuple(trap_engine_id)) for (u, a, p, ap, pp) in users]
    if sim:
        trap_users.append(TrapUser(SIM_USER, SIM_AUTH_KEY, SIM_PRIV_KEY, engine_ids=(SIM_TRAP_ENGINE_ID,)))
    cfg = MonitorConfig(
        targets=targets, db=db or default_db(), interval=interval, timeout=timeout, retries=retries,
        concurrency=concurrency, trap_host=trap_host, trap_port=trap_port or None,
        trap_communities=communities, trap_users=tuple(trap_users), metrics_host=metrics_host,
        metrics_port=metrics_port or None, rules=ruleset, deadline=deadline, textfile_dir=textfile_dir)
    try:
        svc = MonitorService(cfg)
    except OSError as e:
        _fail(f"cannot open {cfg.db}: {e}", 2)

    async def main():
        if once:
            polls = await svc.poller.poll_all()
            await svc.on_cycle(polls)
            return polls
        err.print(f"monitoring {len(targets)} devices every {interval:g} s; db {cfg.db}; "
                  f"traps udp/{trap_port or 'off'}; /metrics tcp/{metrics_port or 'off'}", highlight=False)
        await svc.run()
        return []

    try:
        polls = asyncio.run(main())
    except OSError as e:
        _fail(f"cannot bind: {e}", 2)
    if once:
        down = [p for p in polls if not p.reachable]
        if as_json:
            print(json.dumps([_poll_json(p) for p in polls], ensure_ascii=False, indent=2))
        else:
            tab = Table("device", "profile", "status", "samples", "ms")
            for p in polls:
                status = "[green]ok[/]" if p.state == "ok" else f"[red]{p.state}: {p.error or '; '.join(p.warnings)}[/]"
                tab.add_row(p.device, p.profile, status,
                            str(len(p.samples)), f"{p.duration * 1000:.0f}")
            console.print(tab)
        if down:
            raise typer.Exit(1)


def _poll_json(p) -> dict:
    return {"device": p.device, "profile": p.profile, "reachable": p.reachable, "state": p.state, "error": p.error,
            "ts": p.ts, "duration_s": round(p.duration, 4), "info": p.info, "implausible": p.implausible,
            "warnings": p.warnings, "discarded_answers": p.discarded,
            "samples": [{"metric": s.metric, "labels": s.labels, "value": s.value, "unit": s.unit,
                         **({"state": s.state} if s.state is not None else {})} for s in p.samples]}


snmp_app = typer.Typer(help="SNMP tools: probe one device, run the simulated facility.", no_args_is_help=True)


def _secret_arg(v: Optional[str]) -> Optional[str]:
    """A secret given as env:VAR is read from the environment (keeps keys out of `ps`)."""
    if v and v.startswith("env:"):
        val = os.environ.get(v[4:])
        if val is None:
            _fail(f"{v} is not set", 2)
        return val
    return v


@snmp_app.command("probe")
def probe(
    host: str = typer.Argument(..., help="HOST or HOST:PORT (default port 161)."),
    profile: str = typer.Option(..., help="Profile name (monitors/profiles/<name>.yaml)."),
    community: Optional[str] = typer.Option(None, help="v2c community (or env:VAR)."),
    user: Optional[str] = typer.Option(None, help="SNMPv3 user (authPriv)."),
    auth_key: Optional[str] = typer.Option(None, help="v3 auth passphrase (or env:VAR)."),
    priv_key: Optional[str] = typer.Option(None, help="v3 privacy passphrase (or env:VAR)."),
    auth_proto: str = typer.Option("SHA256", help="MD5|SHA|SHA224|SHA256|SHA384|SHA512"),
    priv_proto: str = typer.Option("AES", help="DES|AES|AES192|AES256 (Blumenthal key extension, net-snmp)|"
                                                   "AES192C|AES256C (Reeder, Cisco)"),
    context: Optional[str] = typer.Option(None, help="v3 context name."),
    timeout: float = typer.Option(2.0), retries: int = typer.Option(1),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One poll of one device with a profile: values with units."""
    from .alerts import format_value
    from .poller import Poller
    from .profiles import ProfileError, get_profile
    from .snmp.errors import Credentials
    from .snmp.usm import HASHES, PRIVS, normalise_auth, normalise_priv
    from .targets import Target

    if ":" in host:
        h, _, p = host.rpartition(":")
        if not p.isdigit():
            _fail(f"bad port in {host!r}", 2)
        host, port = h, int(p)
    else:
        port = 161
    try:
        get_profile(profile)
    except ProfileError as e:
        _fail(str(e), 2)
    if community and user:
        _fail("give either --community (v2c) or --user/--auth-key/--priv-key (v3), not both", 2)
    if community:
        creds = Credentials("2c", community=_secret_arg(community))
    elif user:
        if not (auth_key and priv_key):
            _fail("SNMPv3 is authPriv only: --auth-key and --priv-key are required", 2)
        if normalise_auth(auth_proto) not in HASHES or normalise_priv(priv_proto) not in PRIVS:
            _fail(f"unknown protocol (auth: {', '.join(HASHES)}; priv: {', '.join(PRIVS)})", 2)
        creds = Credentials("3", user=user, auth_key=_secret_arg(auth_key), priv_key=_secret_arg(priv_key),
                            auth_protocol=normalise_auth(auth_proto), priv_protocol=normalise_priv(priv_proto),
                            context=context)
    else:
        _fail("credentials needed: --community C, or --user U --auth-key K --priv-key P", 2)
    t = Target(host, host, port, profile, creds)
    poll = asyncio.run(Poller([t], timeout=timeout, retries=retries).poll_all())[0]
    if as_json:
        print(json.dumps(_poll_json(poll), ensure_ascii=False, indent=2))
    elif poll.reachable:
        for k, v in poll.info.items():
            console.print(f"{k}: {v}", highlight=False, markup=False)
        tab = Table("metric", "labels", "value", "unit")
        for s in poll.samples:
            lab = ", ".join(f"{k}={v}" for k, v in s.labels.items())
            tab.add_row(s.metric, lab, format_value(s.value, s.unit, s.state, "en"), s.unit or s.type)
        console.print(tab)
    if not as_json:
        for text in poll.implausible:
            err.print(f"implausible value dropped: {text}", highlight=False, markup=False)
        for text in poll.warnings:
            err.print(f"warning: {text}", highlight=False, markup=False)
    if not poll.reachable:
        if not as_json:
            err.print(f"{host}:{port}: {poll.state}: {poll.error}", highlight=False, markup=False)
        raise typer.Exit(1)
    if poll.state != "ok":  # e.g. the profile matched nothing: answering is not being healthy
        if not as_json:
            err.print(f"{host}:{port}: {poll.state}", highlight=False, markup=False)
        raise typer.Exit(1)


@snmp_app.command("sim")
def sim_cmd(
    inventory: Optional[Path] = typer.Option(None, help="Inventory folder (default: the shipped one)."),
    targets_out: Path = typer.Option(Path("sim-targets.json"), help="Where to write the targets file."),
    workdir: Optional[Path] = typer.Option(None, help="Working folder of the agents (default: temporary)."),
    separate: bool = typer.Option(False, help="One snmpsim process per device (more memory)."),
    as_json: bool = typer.Option(False, "--json", help="Print the targets as JSON."),
) -> None:
    """Run simulated agents for every SNMP device of the inventory until interrupted."""
    import signal

    from .sim import sim_devices_from_inventory, start_agents, write_targets
    inv = _inventory(inventory)
    devs = sim_devices_from_inventory(inv)
    if not devs:
        _fail("no SNMP device in the inventory", 2)
    try:
        h = start_agents(devs, workdir=workdir, shared=not separate)
    except (RuntimeError, FileNotFoundError) as e:
        _fail(str(e))
    try:
        write_targets(h.targets, targets_out)
        if as_json:
            print(json.dumps([t.__dict__ for t in h.targets], ensure_ascii=False, indent=2))
        else:
            err.print(f"{len(h.targets)} simulated agents (pids {h.pids}); targets: {targets_out}", highlight=False)
        stop = {"flag": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
        while not stop["flag"] and all(p.poll() is None for p in h.procs.values()):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        h.stop()


@snmp_app.command("prometheus-rules")
def prometheus_rules_cmd(rules: Optional[Path] = typer.Option(None, help="Alert rules YAML (default monitors/alerts.yaml).")
                         ) -> None:
    """Print monitors/alerts.yaml as Prometheus/vmalert alerting rules (for a scaled-out site)."""
    from io import StringIO

    from ruamel.yaml import YAML

    from .alerts import RulesError, load_rules
    from .export import prometheus_rules
    try:
        rs = load_rules(rules)
    except RulesError as e:
        _fail(str(e), 2)
    buf = StringIO()
    y = YAML()
    y.width = 200
    y.dump(prometheus_rules(rs), buf)
    sys.stdout.write(buf.getvalue())


def dashboard(
    host: str = typer.Option("127.0.0.1", help="Listen address."),
    port: int = typer.Option(8080, help="Listen port."),
    db: Optional[Path] = typer.Option(None, help="SQLite database of `dcops monitor`."),
    session_minutes: int = typer.Option(30, help="Idle session lifetime (minutes)."),
    session_hours: float = typer.Option(12, help="Absolute session lifetime (hours), however active."),
    secure_cookies: bool = typer.Option(False, help="Mark cookies Secure (behind an HTTPS reverse proxy)."),
    forwarded_allow_ips: Optional[str] = typer.Option(
        None, help="Reverse proxies trusted for X-Forwarded-For/-Proto (comma-separated IPs or CIDRs). "
                   "Unset: headers ignored, the client is the TCP peer."),
    stale_after: float = typer.Option(180, help="/healthz answers 503 when the newest poll is older (s)."),
    limit_concurrency: int = typer.Option(1000, help="Connections beyond this get 503 at once."),
    header_timeout: float = typer.Option(10, help="Seconds a client has to send its request headers."),
    body_timeout: float = typer.Option(10, help="Seconds a client has to send a POST body."),
    alertmanager: Optional[str] = typer.Option(
        None, "--alertmanager", help="Scale-out mode: read alerts and silences from this Alertmanager "
                                     "(http://HOST:9093) and acknowledge and silence through its v2 API."),
    site: Optional[str] = typer.Option(None, "--site", help="With --alertmanager: the `site` label of this page's "
                                                            "devices (default: the inventory's site code)."),
    ack_hours: float = typer.Option(8, help="With --alertmanager: an acknowledgement silences the alert this long."),
) -> None:
    """The NOC page on uvicorn (Vietnamese by default). Users: `dcops dashboard-user`; wall: `dcops dashboard-kiosk`."""
    from .service import default_db
    from .web.app import WebConfig
    from .web.server import serve
    if alertmanager and not alertmanager.startswith(("http://", "https://")):
        _fail(f"--alertmanager wants an http(s):// URL, got {alertmanager!r}", 2)
    if not 0 < ack_hours <= 31 * 24:
        _fail("--ack-hours must be between 0 and 744", 2)
    cfg = WebConfig(db or default_db(), session_minutes=session_minutes, session_hours=session_hours,
                    secure_cookies=secure_cookies, stale_after=stale_after, body_timeout=body_timeout,
                    alertmanager=alertmanager, site=site, ack_hours=ack_hours)
    try:
        serve(cfg, host, port, forwarded_allow_ips=forwarded_allow_ips, limit_concurrency=limit_concurrency,
              header_timeout=header_timeout)
    except OSError as e:
        _fail(f"cannot serve on {host}:{port}: {e}", 2)


def dashboard_user(
    name: str = typer.Argument(..., help="User name."),
    role: str = typer.Option("viewer", help="viewer (read-only) or admin (acknowledge alerts, maintenance)."),
    db: Optional[Path] = typer.Option(None, help="SQLite database of `dcops monitor`."),
    password_env: Optional[str] = typer.Option(None, help="Read the password from this environment variable "
                                                          "(default: prompt)."),
) -> None:
    """Create or update a dashboard user (password stored as an Argon2id hash)."""
    from .service import default_db
    from .store import Store
    from .web.auth import set_user
    if role not in ("viewer", "admin"):
        _fail("role must be viewer or admin", 2)
    if password_env:
        pw = os.environ.get(password_env)
        if not pw:
            _fail(f"{password_env} is not set", 2)
    else:
        pw = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(pw) < 8:
        _fail("password must have at least 8 characters", 2)
    set_user(Store(db or default_db()), name, role, pw)
    err.print(f"user {name} ({role}) saved", highlight=False)


def prometheus_cmd(
    out: Path = typer.Option(..., "--out", help="Folder for prometheus.yml, rules/ and alertmanager.yml."),
    exporter: list[str] = typer.Option(["127.0.0.1:9118"], "--exporter", help="HOST:PORT of a dcops /metrics "
                                       "(repeatable: one per monitor shard); SITE=HOST:PORT for one site only."),
    alertmanager: list[str] = typer.Option(["127.0.0.1:9093"], "--alertmanager", help="HOST:PORT (repeatable)."),
    scrape_interval: str = typer.Option("15s", help="Prometheus scrape interval."),
    evaluation_interval: str = typer.Option("15s", help="Prometheus rule evaluation interval."),
    remote_write: list[str] = typer.Option([], "--remote-write", help="URL of a central store's write API, e.g. "
                                           "VictoriaMetrics http://HOST:8428/api/v1/write (repeatable)."),
    site: Optional[str] = typer.Option(None, "--site", help="Site label (default: the inventory's site code)."),
    inventory: list[Path] = typer.Option([], help="Inventory folder (default: the shipped one). Repeat it for "
                                                  "several sites (production, DR …): one folder per site in --out, "
                                                  "plus central/."),
    federate: list[str] = typer.Option([], "--federate", help="Several sites: SITE=HOST:PORT of that site's "
                                       "Prometheus; writes central/prometheus.yml federating them."),
    rules: Optional[Path] = typer.Option(None, help="Alert rules YAML (default monitors/alerts.yaml)."),
    as_json: bool = typer.Option(False, "--json", help="Print the files written and the warnings as JSON."),
) -> None:
    """Generate the scale-out stack (Prometheus, its rules, Alertmanager) from the inventory and monitors/."""
    from ..model import InventoryInvalid, load_inventory
    from .alerts import RulesError, load_rules
    from .scaleout import bundle, multi_site_bundle, parse_site_addresses, write
    invs = []
    try:
        for path in inventory or [None]:
            try:
                invs.append(load_inventory(path, dr_ok=True) if path else load_inventory())
            except InventoryInvalid as e:
                _fail(f"inventory {path or 'inventory/'} invalid: {len(e.problems)} error(s) (run dcops validate)", 2)
        rs = load_rules(rules)
    except RulesError as e:
        _fail(str(e), 2)
    if len(invs) == 1:
        if federate or any("=" in x for x in exporter):
            _fail("SITE=HOST:PORT addresses and --federate need several --inventory folders", 2)
        try:
            b = bundle(invs[0], rs, exporters=exporter, alertmanagers=alertmanager, scrape_interval=scrape_interval,
                       evaluation_interval=evaluation_interval, remote_write=remote_write, site=site)
        except ValueError as e:  # a DR site's inventory alone
            _fail(str(e), 2)
    else:
        if site:
            _fail("--site names the one site of one inventory; with several, each inventory's site.code is used", 2)
        codes = [i.site.code for i in invs]
        try:
            exporters = parse_site_addresses(exporter, codes, ["127.0.0.1:9118"], "--exporter")
            if any("=" not in f for f in federate):
                raise ValueError("--federate wants SITE=HOST:PORT")
            fed = parse_site_addresses(federate, codes, [], "--federate") if federate else None
            if fed and not all(fed.values()):
                raise ValueError("--federate: give SITE=HOST:PORT for every site "
                                 f"(missing: {', '.join(s for s, v in fed.items() if not v)})")
            b = multi_site_bundle(invs, rs, exporters=exporters, alertmanagers=alertmanager, federate=fed,
                                  scrape_interval=scrape_interval, evaluation_interval=evaluation_interval,
                                  remote_write=remote_write)
        except ValueError as e:
            _fail(str(e), 2)
    try:
        paths = write(b, out)
    except OSError as e:
        _fail(f"cannot write {out}: {e.strerror or e}", 1)
    if as_json:
        print(json.dumps({"files": [str(p) for p in paths], "warnings": b.warnings}, ensure_ascii=False, indent=2))
        return
    for w in b.warnings:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    for p in paths:
        console.print(str(p), highlight=False)


def _runs_without_subcommand(fn):
    """`dcops monitor [OPTIONS]` still runs the monitor; `dcops monitor prometheus …` runs the verb."""
    import functools
    import inspect

    @functools.wraps(fn)
    def callback(ctx: typer.Context, **kw):
        if ctx.invoked_subcommand is None:
            return fn(**kw)

    sig = inspect.signature(fn)
    ctx_param = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    callback.__signature__ = sig.replace(parameters=[ctx_param, *sig.parameters.values()])
    return callback


def dashboard_kiosk(
    name: str = typer.Argument(..., help="Name of the wall screen, e.g. noc-wall-1."),
    db: Optional[Path] = typer.Option(None, help="SQLite database of `dcops monitor`."),
    revoke: bool = typer.Option(False, help="Revoke the screen's token instead."),
) -> None:
    """A read-only kiosk token for a wall screen: open /kiosk/TOKEN once, it then shows /wall without login."""
    from .service import default_db
    from .store import Store
    from .web.app import add_kiosk, revoke_kiosk
    st = Store(db or default_db())
    if revoke:
        if not revoke_kiosk(st, name):
            _fail(f"no kiosk named {name}", 1)
        err.print(f"kiosk {name} revoked", highlight=False)
        return
    tok = add_kiosk(st, name)
    print(f"/kiosk/{tok}")
    err.print(f"kiosk {name}: open http(s)://NOC-HOST/kiosk/… once on the screen (the token is shown only now)",
              highlight=False)


def silences_cmd(
    alertmanager: str = typer.Option(..., "--alertmanager", help="Alertmanager to carry the windows to (http://HOST:9093)."),
    db: Optional[Path] = typer.Option(None, help="SQLite database of `dcops monitor` (the NOC page's windows)."),
    site: Optional[str] = typer.Option(None, "--site", help="The `site` label of these devices (default: the inventory's)."),
    execute: bool = typer.Option(False, "--execute", help="Create the silences (default: only say what would be created)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Carry the embedded monitor's maintenance windows to Alertmanager as silences (once each, tagged)."""
    import json as _json

    from .service import default_db
    from .silence_sync import sync
    from .store import Store
    from .web.alertsource import SourceError, make_source
    if not alertmanager.startswith(("http://", "https://")):
        _fail(f"--alertmanager wants an http(s):// URL, got {alertmanager!r}", 2)
    path = db or default_db()
    if not Path(path).is_file():
        _fail(f"no monitor database at {path}", 2)
    store = Store(path)
    try:
        report = sync(store, make_source(store, alertmanager, site=site), execute=execute)
    except SourceError as e:
        _fail(f"Alertmanager: {e}", 1)
    if as_json:
        print(_json.dumps(report.as_dict(), ensure_ascii=False, indent=1))
    else:
        verb = "created" if execute else "would create"
        for c in report.created:
            print(f"window {c['window']} ({c['target']}): {verb}" + (f" silence {c['silence']}" if c["silence"] else ""))
        for c in report.present:
            print(f"window {c['window']} ({c['target']}): already silence {c['silence']}")
        for c in report.refused:
            print(f"window {c['window']} ({c['target']}): REFUSED: {c['error']}")
        print(f"{len(report.created)} {verb}, {len(report.present)} present, {len(report.refused)} refused, "
              f"{report.ended} ended" + ("" if execute else " (dry run: --execute writes)"))
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    monitor_app = typer.Typer(help=monitor.__doc__)
    monitor_app.callback(invoke_without_command=True)(_runs_without_subcommand(monitor))
    monitor_app.command("prometheus")(prometheus_cmd)
    monitor_app.command("silences")(silences_cmd)
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(snmp_app, name="snmp")
    app.command("dashboard")(dashboard)
    app.command("dashboard-user")(dashboard_user)
    app.command("dashboard-kiosk")(dashboard_kiosk)
