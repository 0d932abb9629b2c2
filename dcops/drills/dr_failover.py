"""DR failover drill: switch one system from the production site to the DR site as the DR stack declares it,
measure RTO and RPO, verify the data behind the public address, and switch back.

What moves comes from the DR stack's plan in active mode (`-o dr_plan=FILE`: `dcops plan --stack dr --json FILE`
with `dcops:drMode active`, docs/cloud.md "DR failover"): the system's instances power on, it is published at
DR through its floating IPs (a `publish: direct` system) or, behind the WAF, its DR load balancer's VIP (the
WAF-published ones: no floating IP, which would bypass the WAF; in the lab the DR public address stands for
the target the link balancer / WAF moves to), and each DR volume
names the production volume and backup policy it is restored from (`restore_from` / `restore_via`). Public
DNS is not in the program (docs/cloud.md); the province publishes its services on the link balancer, so the
drill moves the link balancer's target for the service's published address, and the address users reach
(and the DNS record naming it) stays the same.

In the lab: a users' host probes the published address with a new HTTP request every 100 ms (a probe slower
than `slow_ms` counts as outage, as in the leased-line drill; the probe log is kept with the record); the
link balancer is a namespace with an nftables DNAT for the published address; the production instance and
the DR instance are namespaces serving their volume over HTTP, each answer naming its site. The data path is
real: the DR volume is restored through the lab's Bacula from the production client's newest good job and
verified file by file against the catalogue before anything is switched; a restore that fails leaves
production serving and nothing moved. RPO is the age, at the switch, of the newest good job in the catalogue;
RTO runs from the declared loss of the production site to the first probe after which the DR site answers
every probe in time. Lab figures are never compared with production limits (`met: null`, scale recorded).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dcops.backup import catalogue
from dcops.backup.restore import restore_verified
from dcops.lab import procs
from dcops.model import Inventory

from . import bacula_restore
from .backup_restore import seed_data
from .core import DrillContext, DrillRefused
from .record import Measurement, iso, utcnow

PLAYBOOK = ""  # no playbook: in the lab the drill drives the switch itself; production is `pulumi up` + the runbook
SERVICE_PORT = 80
PUBLISHED = "198.18.2.10"  # lab-only published address on the lab link balancer (RFC 2544 range)
USERS = ("198.18.1.2/24", "198.18.1.1/24")  # users' host, link balancer's outside interface
PROD_LINK = ("100.64.10.1/30", "100.64.10.2/30")  # link balancer ↔ production site
DR_LINK = ("100.64.20.1/30", "100.64.20.2/30")  # link balancer ↔ DR site
DR_PUBLIC = "198.51.100.0/26"  # the DR site's public segment, as Pulumi.dr.yaml's dcops:drPublic example
DEFAULT_SLOW_MS = 250.0
MARKER = "service.txt"  # the file the probes fetch
NAT_TABLE = "dcops_publish"


@dataclass
class FailoverLab:
    """The lab's pieces beside the DrillLab's namespaces (stopped with the lab: the processes are the lab's)."""
    vm: str
    prod_data: Path
    dr_volume: Path
    prod_pid: int
    dr_fip: str
    dr_pid: int | None = None
    extra: dict = field(default_factory=dict)

    def stop(self) -> None:  # the DrillLab tears the namespaces and their processes down
        pass


def targets(inv: Inventory, options: dict) -> list[str]:
    """One VM of a DR system whose backups replicate to DR (its data is what the DR site restores)."""
    names = list(options.get("targets") or [])
    if len(names) > 1:
        raise DrillRefused("dr-failover switches one system at a time: name one VM (-t)")
    if not names:
        names = [v.name for v in inv.vms if v.drill_enabled and _replicated(inv, v)][:1]
        if not names:
            raise DrillRefused("no drill-enabled VM of a DR system on a backup policy that replicates to DR")
    vm = next((v for v in inv.vms if v.name == names[0]), None)
    if vm is None:
        raise DrillRefused(f"{names[0]} is not a VM in the inventory")
    if not _replicated(inv, vm):
        raise DrillRefused(f"{vm.name}: its system is not dr_required or its backup policy does not replicate to "
                           "DR (no data at the DR site to restore from)")
    return names


def _replicated(inv: Inventory, vm) -> bool:
    if not vm.backup_policy or not inv.system(vm.system).dr_required:
        return False
    p = inv.backup_policy(vm.backup_policy)
    return p.target == "tape" and bool(p.replicate_to_dr)


def switch_from_plan(plan: dict, vm: str, system: str) -> dict:
    """What the DR stack in active mode declares for `system`: instances and their power state, the floating
    IPs published at DR, and `vm`'s data path (DR volume ← production volume, via backup policy)."""
    if not isinstance(plan, dict) or not str(plan.get("format", "")).startswith("dcops-plan/") \
            or plan.get("stack") != "dr":
        raise DrillRefused("-o dr_plan must be the DR stack's plan (dcops plan --stack dr --json FILE)")
    res = plan.get("resources", [])
    meta = lambda r: (r.get("inputs") or {}).get("metadata") or {}  # noqa: E731
    inst = [r for r in res if r.get("kind") == "compute.Instance" and meta(r).get("system") == system]
    if not any(r["name"] == vm for r in inst):
        raise DrillRefused(f"{vm} is not in the DR plan (system {system} not declared at DR)")
    states = sorted({(r.get("inputs") or {}).get("powerState", "active") for r in inst})
    if states != ["active"]:
        raise DrillRefused(f"the DR plan declares {system}'s instances {'/'.join(states)}: plan the switch with "
                           "dcops:drMode active and dcops:drPublic (docs/cloud.md, DR failover)")
    fips = sorted(r["name"] for r in res if r.get("kind") == "networking.FloatingIp"
                  and f"system={system}" in ((r.get("inputs") or {}).get("tags") or []))
    if not fips:
        fips = sorted(r["name"] for r in res if r.get("kind") == "networking.FloatingIp"
                      and any(r["name"] == f"{i['name']}-fip" for i in inst))
    vols = [{"volume": r["name"], "role": meta(r).get("role"), "restore_from": meta(r).get("restore_from"),
             "restore_via": meta(r).get("restore_via")}
            for r in res if r.get("kind") == "blockstorage.Volume" and meta(r).get("vm") == vm]
    data = [v for v in vols if v["role"] != "boot" and v["restore_from"]]
    if not data:
        raise DrillRefused(f"the DR plan declares no data path for {vm} (no DR volume with restore_from)")
    # a WAF-published system has no floating IP at DR (it would bypass the WAF): the link balancer / WAF target
    # moves to its DR load balancer's VIP (the plan's dr-waf-published note names it)
    vips = sorted(r["name"] for r in res if r.get("kind") == "loadbalancer.LoadBalancer"
                  and f"system={system}" in ((r.get("inputs") or {}).get("tags") or []))
    if not fips and not vips:
        raise DrillRefused(f"the DR plan publishes nothing for {system} at DR (no floating IP, no load balancer "
                           "VIP): nothing to switch")
    published = next((f for f in fips if f.startswith("lb-")), fips[0] if fips else f"{vips[0]} VIP")
    return {"system": system, "instances": len(inst), "power_state": "active", "floating_ips": fips,
            "published_via": published, "data_path": data}


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    """Users → link balancer (DNAT of the published address) → production site | DR site, and Bacula holding
    the production data set's last good backup (a real Full job in the catalogue)."""
    (name,) = names
    lab = dl.lab
    for short, fwd in (("users", False), ("lb", True), ("prod", False), ("dr", False)):
        lab.host(short, forwarding=fwd)
    lab.link("users", "u0", "lb", "up0", addr_a=USERS[0], addr_b=USERS[1])
    lab.link("lb", "p0", "prod", "eth0", addr_a=PROD_LINK[0], addr_b=PROD_LINK[1])
    lab.link("lb", "d0", "dr", "eth0", addr_a=DR_LINK[0], addr_b=DR_LINK[1])
    lab.route("users", "default", "via", USERS[1].split("/")[0])
    lab.route("prod", "default", "via", PROD_LINK[0].split("/")[0])
    lab.route("dr", "default", "via", DR_LINK[0].split("/")[0])
    dr_public = options.get("dr_public", DR_PUBLIC)
    lab.route("lb", dr_public, "via", DR_LINK[1].split("/")[0])
    lab.exec("lb", ["ip", "addr", "add", f"{PUBLISHED}/32", "dev", "lo"])
    for short in ("lb", "prod", "dr"):
        lab.sysctl(short, "net.ipv4.conf.all.rp_filter", "0")
    publish(lab, PROD_LINK[1].split("/")[0])
    prod = lab.workdir / "sites" / "prod" / name / "data"
    prod.mkdir(parents=True)
    seed_data(prod, int(float(options.get("lab_data_mb", 2)) * 1024 * 1024))
    (prod / MARKER).write_text(f"{name}: dịch vụ đang chạy\n", encoding="utf-8")
    dr_volume = lab.workdir / "sites" / "dr" / f"{name}-data"
    dr_volume.mkdir(parents=True)  # the standby volume: empty until the restore writes into it
    bl = bacula_restore.build(dl, inv, names, {name: prod})
    bacula_restore.backup(bl, name)  # the schedule's last run before the drill
    pid = _serve(lab, "prod", prod, "prod", "0.0.0.0")
    dr_fip = str(ipaddress.ip_network(dr_public).network_address + 10)
    dl.services["dr_failover"] = FailoverLab(name, prod, dr_volume, pid, dr_fip)


def publish(lab, target: str) -> None:
    """Point the link balancer's published address at `target` (atomic: one nft transaction)."""
    lab.exec("lb", ["nft", "delete", "table", "ip", NAT_TABLE], check=False)
    lab.nft("lb", f"""table ip {NAT_TABLE} {{
  chain pre {{ type nat hook prerouting priority dstnat; policy accept;
    ip daddr {PUBLISHED} tcp dport {SERVICE_PORT} dnat to {target}
  }}
}}
""")


def published_target(lab) -> str | None:
    out = lab.ruleset("lb")
    for line in out.splitlines():
        if f"ip daddr {PUBLISHED}" in line and "dnat to" in line:
            return line.split("dnat to", 1)[1].strip().split()[0]
    return None


def _serve(lab, short: str, folder: Path, site: str, bind: str) -> int:
    pid = lab.spawn(short, [sys.executable, "-m", "dcops.drills.labkit.volserve", "--dir", str(folder),
                            "--site", site, "--bind", bind, "--port", str(SERVICE_PORT)], what=f"service-{site}")
    lab.wait_listening(short, SERVICE_PORT, pid=pid)
    return pid


def _probes(log: Path) -> list[dict]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by the stop
    return sorted(out, key=lambda p: p["t"])


def _wait_site(log: Path, site: str, since: float, slow_ms: float, need: int = 10, timeout: float = 30.0) -> float | None:
    """Start time of the first probe after `since` from which `need` probes in a row were answered in time by
    `site`; None if that did not happen within `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        first = served_from(_probes(log), site, since, slow_ms, need)
        if first is not None:
            return first
        time.sleep(0.1)
    return None


def served_from(probes: list[dict], site: str, since: float, slow_ms: float, need: int = 10) -> float | None:
    """The start of the run of good probes (answered by `site`, faster than `slow_ms`) that lasts to the end of
    the log and holds at least `need` probes; None if the log does not end in such a run."""
    after = [p for p in probes if p["t"] >= since]
    run: list[dict] = []
    for p in after:
        if p["ok"] and p.get("site") == site and p["ms"] <= slow_ms:
            run.append(p)
        else:
            run = []
    return run[0]["t"] if len(run) >= need else None


def outage(probes: list[dict], since: float, until: float, slow_ms: float) -> dict:
    """Probes between the loss and the recovery: failed, slow (counted as outage), answered by each site."""
    window = [p for p in probes if since <= p["t"] < until]
    return {"probes": len(window), "failed": sum(1 for p in window if not p["ok"]),
            "slow": sum(1 for p in window if p["ok"] and p["ms"] > slow_ms), "slow_ms": slow_ms}


def _digest(data: bytes) -> str:
    return base64.b64encode(hashlib.sha1(data).digest()).rstrip(b"=").decode()


def verify_served(lab, rel: dict[str, str]) -> tuple[int, list[str], set]:
    """GET every file of the data set through the published address (from the users' host); (checked, bad, sites)."""
    code = (
        "import base64,hashlib,http.client,json,sys,urllib.parse\n"
        "out={}\n"
        "for p in json.loads(sys.stdin.read()):\n"
        f"  c=http.client.HTTPConnection({PUBLISHED!r},{SERVICE_PORT},timeout=5)\n"
        "  c.request('GET','/'+urllib.parse.quote(p)); r=c.getresponse(); b=r.read(); c.close()\n"
        "  out[p]=[r.status, base64.b64encode(hashlib.sha1(b).digest()).rstrip(b'=').decode(), "
        "r.getheader('X-Dcops-Site')]\n"
        "print(json.dumps(out))\n")
    proc = lab.exec("users", [sys.executable, "-c", code], input=json.dumps(sorted(rel)), check=False, timeout=60)
    if proc.returncode != 0:
        return 0, [f"fetch failed: {proc.stderr.strip()[-300:]}"], set()
    got = json.loads(proc.stdout)
    bad = sorted(p for p, want in rel.items() if got.get(p, [0])[0] != 200 or got[p][1] != want)
    return len(rel), bad, {v[2] for v in got.values()}


def run(ctx: DrillContext) -> None:
    inv, r = ctx.inv, ctx.record
    (name,) = [t["name"] for t in r.targets]
    dl = ctx.lab
    fl = getattr(dl, "services", {}).get("dr_failover") if dl is not None else None
    bl = getattr(dl, "services", {}).get("bacula") if dl is not None else None
    if fl is None or bl is None:
        raise DrillRefused("dr-failover runs in a lab (dcops drill run dr-failover --lab): the production switch "
                           "is `pulumi up --stack dr` with dcops:drMode active and the runbook in docs/cloud.md")
    vm = inv.vm(name)
    policy = inv.backup_policy(vm.backup_policy)
    if not ctx.options.get("dr_plan"):
        raise DrillRefused("-o dr_plan=FILE is required: the DR stack's plan in active mode "
                           "(dcops:drMode active; dcops plan --stack dr --json FILE)")
    try:
        plan = json.loads(Path(ctx.options["dr_plan"]).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DrillRefused(f"cannot read DR plan {ctx.options['dr_plan']}: {e}") from None
    sw = switch_from_plan(plan, name, vm.system)
    slow_ms = float(ctx.options.get("slow_ms", DEFAULT_SLOW_MS))
    lab = dl.lab
    prod_ip = PROD_LINK[1].split("/")[0]
    r.details["switch"] = {**sw, "published_address": f"{PUBLISHED}:{SERVICE_PORT} (lab)",
                           "moved_by": "link balancer DNAT target (public DNS is not in the program; the record "
                                       "naming the published address stays)",
                           "production_target": prod_ip, "dr_target": fl.dr_fip, "slow_ms": slow_ms,
                           "lab_stand_in": f"{name} stands in for {sw['system']}'s public entry {sw['published_via']}"}
    client = f"{name}-fd"
    if not ctx.execute:
        r.state("service", f"on production (check mode, nothing switched); link balancer → {published_target(lab)}",
                host=name)
        return
    log, stop = lab.workdir / f"{ctx.run_id}-probes.jsonl", lab.workdir / f"{ctx.run_id}-probes.stop"
    probe = lab.spawn("users", [sys.executable, "-m", "dcops.drills.labkit.httpprobe", "--url",
                                f"http://{PUBLISHED}:{SERVICE_PORT}/{MARKER}", "--out", str(log), "--stop", str(stop),
                                "--interval", "0.1", "--timeout", "1.0"], what="httpprobe")
    try:
        _drill(ctx, name, sw, fl, bl, policy, client, log, slow_ms, prod_ip)
    finally:
        stop.touch()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and procs.alive(probe):
            time.sleep(0.05)
        lab.stop(probe)
        if log.exists():
            ctx.artefact("probes.jsonl", log, "probe log from the users' host: one HTTP request per line")
        _end_state(ctx, name, fl, log, slow_ms, prod_ip)


def _drill(ctx, name, sw, fl: FailoverLab, bl, policy, client, log, slow_ms, prod_ip) -> None:
    r, lab = ctx.record, ctx.lab.lab
    t_start = time.time()
    if not r.check("Production serves at the published address before the switch",
                   _wait_site(log, "prod", t_start, slow_ms, need=5, timeout=10) is not None, host=name):
        return
    # -- data path: the declared backup set into the DR volume, verified before anything moves
    with bl.catalogue() as con:
        point = catalogue.last_good_before(con, client, utcnow())
    data = sw["data_path"][0]
    r.event("DR restore started", host=name, detail=f"{data['volume']} ← {data['restore_from']} via "
            f"{data['restore_via']} (JobId {point.job_id if point else '—'})")
    t_r0 = utcnow()
    staging = bl.workdir / "restore" / ctx.run_id / name
    res = restore_verified(bl, client, staging)
    ok = r.check("Restore the declared backup set into the DR volume through Bacula, verified against the "
                 "catalogue", res.ok, f"{res.reason} ({res.files_checked} file(s) checked)", host=name)
    rel = {str(Path(p).relative_to(fl.prod_data)): d for p, d in res.expected.items()}
    if ok:
        src = staging / str(fl.prod_data).lstrip("/")
        for child in src.iterdir():
            shutil.move(str(child), fl.dr_volume / child.name)
        bad = [p for p, d in rel.items() if not (fl.dr_volume / p).is_file()
               or _digest((fl.dr_volume / p).read_bytes()) != d]
        ok = r.check("The DR volume holds the data set (every file against the catalogue)", not bad,
                     f"{len(rel) - len(bad)} of {len(rel)} file(s) match" + (f"; bad: {', '.join(bad[:5])}" if bad else ""),
                     host=name)
    bacula_restore._clean(staging)
    t_r1 = utcnow()
    restore_s = (t_r1 - t_r0).total_seconds()
    prod_bytes = sum(v.size_gb for v in ctx.inv.vm(name).volumes) * 1e9 * ctx.inv.site.capacity.data_fill_ratio
    restored = res.bytes or sum(p.stat().st_size for p in fl.prod_data.rglob("*") if p.is_file())
    scale = (f"{restored / 1e6:.1f} MB restored, one VM standing in for {sw['system']} "
             f"({sw['instances']} instances at DR); the production data set is about {prod_bytes / 1e9:,.0f} GB "
             f"(1:{prod_bytes / max(restored, 1):,.0f})")
    r.environment["scale"] = scale
    if point:
        rpo = (t_r0 - point.ended).total_seconds()
        r.measurements.append(Measurement(
            "rpo", round(rpo, 3), "s", name, policy.rpo_hours * 3600, rpo <= policy.rpo_hours * 3600,
            f"switch − newest good backup job in the catalogue (JobId {point.job_id}, {point.level}, ended "
            f"{iso(point.ended)}): what the DR site holds", scale=scale))
    else:
        r.finding("error", f"{name}: the catalogue holds no good backup: the DR site has nothing to restore")
    if not ok:
        r.event("switch NOT made: the DR volume could not be restored and verified; production keeps serving",
                host=name)
        _system(ctx, name, sw, False)
        return
    r.measurements.append(Measurement("dr_restore", round(restore_s, 3), "s", name,
                                      detail="Bacula restore into the DR volume, verified (before the switch)",
                                      scale=scale))
    # -- the switch: production site lost, DR instance on, floating IP at DR, link balancer target moved
    lost = time.time()
    r.event("production site declared lost (its link on the link balancer cut)", host="lb", at=iso_ts(lost))
    lab.cut_link("lb", "p0")
    lab.exec("dr", ["ip", "addr", "add", f"{fl.dr_fip}/32", "dev", "lo"])
    fl.dr_pid = _serve(lab, "dr", fl.dr_volume, "dr", fl.dr_fip)
    r.event("DR instance running, floating IP attached", host=name, detail=f"{sw['published_via']} → {fl.dr_fip}")
    publish(lab, fl.dr_fip)
    r.event("link balancer: published address now → DR", host="lb", detail=f"{PUBLISHED} → {fl.dr_fip}")
    up = _wait_site(log, "dr", lost, slow_ms, timeout=float(ctx.options.get("switch_timeout_s", 30)))
    if not r.check("The service answers from DR at the published address", up is not None,
                   "every probe answered by DR in time" if up else "DR never answered every probe in time", host=name):
        # put production back rather than leave the service down; the end state says whether that worked
        r.event("switch failed: pointing the link balancer back at production", host="lb")
        lab.restore_link("lb", "p0")
        publish(lab, prod_ip)
        _wait_site(log, "prod", time.time(), slow_ms, need=5, timeout=10)
        return
    r.event("service answers from DR (verified by probes)", host=name, at=iso_ts(up))
    a = outage(_probes(log), lost, up, slow_ms)
    rto = up - lost
    r.details["failover"] = {**a, "rto_s": round(rto, 3)}
    checked, bad, sites = verify_served(lab, rel)
    r.check("The data served from DR is the backed-up data set", not bad and sites == {"dr"},
            f"{checked - len(bad)} of {checked} file(s) fetched through the published address match the catalogue; "
            f"answered by {', '.join(sorted(s or '?' for s in sites))}" + (f"; bad: {', '.join(bad[:5])}" if bad else ""),
            host=name)
    limit = policy.rto_hours * 3600
    r.measurements += [
        Measurement("rto", round(rto, 3), "s", name, limit, rto <= limit,
                    f"production lost → every probe at the published address answered by DR within {slow_ms:g} ms "
                    f"({a['failed']} failed, {a['slow']} slow of {a['probes']} probes; restore done beforehand)",
                    scale=scale),
        Measurement("rto_with_restore", round(rto + restore_s, 3), "s", name, limit, rto + restore_s <= limit,
                    "DR restore + switch: the RTO of an unplanned loss, when the restore starts after it",
                    scale=scale),
        Measurement("restored_files_verified", len(rel), "files", name, scale=scale),
    ]
    # -- switch back
    back0 = time.time()
    lab.restore_link("lb", "p0")
    publish(lab, prod_ip)
    r.event("failback: link balancer → production, production link restored", host="lb", at=iso_ts(back0))
    home = _wait_site(log, "prod", back0, slow_ms, timeout=float(ctx.options.get("switch_timeout_s", 30)))
    if r.check("Switched back: production answers every probe again", home is not None, host=name):
        lab.stop(fl.dr_pid)
        fl.dr_pid = None
        lab.exec("dr", ["ip", "addr", "del", f"{fl.dr_fip}/32", "dev", "lo"], check=False)
        r.event("DR instance back to standby (stopped, floating IP released)", host=name)
        r.measurements.append(Measurement("failback_outage", round(home - back0, 3), "s", name,
                                          detail="failback start → every probe answered by production in time",
                                          scale=scale))
    _system(ctx, name, sw, bool(home) and not bad, at=iso(utcnow()))


def iso_ts(t: float) -> str:
    return iso(dt.datetime.fromtimestamp(t, dt.timezone.utc))


def _end_state(ctx, name, fl: FailoverLab, log: Path, slow_ms: float, prod_ip: str) -> None:
    """Where the service is, from the link balancer's rules and the last probes — never from what was sent."""
    r, lab = ctx.record, ctx.lab.lab
    target = published_target(lab)
    probes = _probes(log)
    last = probes[-5:]
    sites = {p.get("site") for p in last if p["ok"] and p["ms"] <= slow_ms}
    answering = len(last) == 5 and len(sites) == 1 and all(p["ok"] and p["ms"] <= slow_ms for p in last)
    if target == prod_ip:
        moved = "not moved: the link balancer sends the published address to production"
    elif target == fl.dr_fip:
        moved = f"moved to DR: the link balancer sends the published address to {fl.dr_fip}"
    else:
        moved = f"unknown target {target!r}"
    r.state("public address", f"{PUBLISHED} — {moved}", host="lb", ok=target == prod_ip)
    if answering and sites == {"prod"}:
        r.state("service", "on production (verified: the last probes answered by production)", host=name)
    elif answering and sites == {"dr"}:
        r.state("service", "STILL ON DR (verified by probes): fail back before closing the drill", host=name, ok=False,
                detail="restore the production link and point the link balancer back (runbook, DR failover)")
    else:
        r.state("service", "NOT ANSWERING at the published address (last probes failed or slow)", host=name, ok=False)
    files = [p for p in fl.dr_volume.rglob("*") if p.is_file()]
    r.state("DR volume", f"holds the restored data set ({len(files)} files), standby" if files else
            "empty (standby, untouched)", host=name)
    running = fl.dr_pid is not None
    r.state("DR instance", "RUNNING with the floating IP" if running else "standby (stopped, no floating IP)",
            host=name, ok=not running)


def _system(ctx, name: str, sw: dict, ok: bool, at: str | None = None) -> None:
    vm = ctx.inv.vm(name)
    ctx.record.systems.append({"system": vm.system, "security_level": ctx.inv.system(vm.system).security_level,
                               "target": name, "vm": name, "evidence": "dr-failover", "verified": ok,
                               "engine": "bacula", "published_via": sw["published_via"], "at": at})
