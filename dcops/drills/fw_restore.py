"""Drill d: restore a central firewall's last good configuration from backup, verify the traffic policy.

The backup is a saved ruleset file (Oxidized-style backups/<device>/<timestamp>.conf): the
newest one, or -o backup=FILE; with none, the drill takes one from the device first. The
playbook validates it on the device, saves the running configuration as the rollback point,
arms an automatic revert, loads the backup, checks the policy with real TCP connections
between zone hosts (data/firewall_checks.yaml) and only then confirms. RTO = load → verified.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from ruamel.yaml import YAML

from dcops import PROJECT_ROOT
from dcops.model import Inventory

from .core import DrillContext, DrillRefused
from .record import Measurement, StepRecord, parse_time
from .record import iso as _iso
from .record import utcnow as _utcnow


def rec_iso() -> str:
    return _iso(_utcnow())

PLAYBOOK = "drills/firewall-restore.yml"
DATA = Path(__file__).parent / "data"
DEFAULT_BACKUPS = PROJECT_ROOT / "backups"


def _yaml(path: Path):
    return YAML(typ="safe").load(Path(path).read_text(encoding="utf-8"))


def targets(inv: Inventory, options: dict) -> list[str]:
    given = list(options.get("targets") or [])
    if len(given) > 1:
        raise DrillRefused(f"firewall-restore restores one firewall at a time, not {', '.join(given)}")
    name = options.get("fw") or (given[0] if given else None)
    fws = [d for d in inv.network_devices if d.kind.value == "firewall"]
    if name:
        if name not in {d.name for d in fws}:
            raise DrillRefused(f"{name} is not a firewall in the inventory")
        return [name]
    enabled = [d.name for d in fws if d.drill_enabled]
    if not enabled:
        raise DrillRefused("no firewall is drill-enabled in the inventory")
    return enabled[:1]


def checks_for(fw: str, options: dict) -> list[dict]:
    data = _yaml(Path(options["checks"])) if options.get("checks") else _yaml(DATA / "firewall_checks.yaml")
    checks = data.get(fw) if isinstance(data, dict) else None
    if not checks:
        raise DrillRefused(f"no traffic-policy checks for {fw} (data/firewall_checks.yaml or -o checks=FILE)")
    return [dict(c) for c in checks]


def newest_backup(folder: Path, device: str) -> Path | None:
    files = sorted([*(Path(folder) / device).glob("*.conf"), *(Path(folder) / device).glob("*.xml")])  # FortiOS/Linux, PAN-OS
    return files[-1] if files else None


def target_s() -> float:
    return float(_yaml(DATA / "targets.yaml")["firewall_restore_rto_s"])


def good_ruleset(inv: Inventory, checks: list[dict]) -> str:
    """The lab firewall's last good policy: default drop, the allowed flows of the checks."""
    rules = "".join(
        f"    ip saddr {inv.vm(c['from']).ip} ip daddr {inv.vm(c['to']).ip} tcp dport {c['port']} accept\n"
        for c in checks if c["expect"] == "allow")
    return ("table inet dcops_policy {\n  chain forward {\n    type filter hook forward priority filter; policy drop;\n"
            "    ct state established,related accept\n" + rules + "  }\n}\n")


INCIDENTS = {  # what went wrong on the lab firewall before the drill
    "open": "flush ruleset\ntable inet factory_default {\n  chain forward {\n"
            "    type filter hook forward priority filter; policy accept;\n  }\n}\n",
    "none": None,
}


def build_lab(dl, inv: Inventory, names: list[str], options: dict) -> None:
    fw = names[0]
    dev = inv.device(fw)
    checks = checks_for(fw, options)
    lab = dl.lab
    dl.target(fw, "fw", forwarding=True, dcops_platform="linux", fw_config_path="/var/lib/dcops/nftables.conf")
    ports: dict[str, set[int]] = {}
    for c in checks:
        ports.setdefault(c["from"], set())
        ports.setdefault(c["to"], set()).add(int(c["port"]))
    for i, name in enumerate(sorted(ports)):
        vm = inv.vm(name)
        iface = next((x for x in dev.interfaces if x.zone == vm.zone), None)
        if iface is None:
            raise DrillRefused(f"{fw} has no interface in zone {vm.zone} (check {name})")
        short = f"z{i}"
        dl.target(name, short, services=tuple(sorted(p for p in ports[name] if p != 22)))
        lab.link("fw", iface.name[:15], short, "eth1", addr_a=str(iface.address),
                 addr_b=f"{vm.ip}/{iface.address.network.prefixlen}")
        lab.route(short, "default", "via", str(iface.address.ip))
    lab.nft("fw", "flush ruleset\n" + good_ruleset(inv, checks))
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = lab.workdir / "backups" / fw
    folder.mkdir(parents=True)
    saved = folder / f"{stamp}.conf"
    saved.write_text(lab.ruleset("fw"))
    options.setdefault("backups_dir", str(lab.workdir / "backups"))
    incident = INCIDENTS[options.get("lab_incident", "open")]
    if incident:
        lab.nft("fw", incident)


def supported_platforms() -> list[str]:
    """The platforms the playbook can restore: those whose platform.yaml says how to apply a configuration
    on the device (`ansible.apply`) or that the vendor's API restores from the controller (`ansible.api`);
    the Ansible inventory hands that section to the role, so neither keeps a list of platforms."""
    from dcops.model.ansible_inventory import platform_knowledge
    return sorted(name for name, spec in platform_knowledge().items() if "apply" in spec or spec.get("api"))


def run(ctx: DrillContext) -> None:
    inv, r = ctx.inv, ctx.record
    fw = r.targets[0]["name"]
    platform = ctx.hostvars(fw).get("dcops_platform")
    if platform not in supported_platforms():
        # a clear refusal before anything connects: FortiOS/PAN-OS restores belong to the vendor APIs
        # of the network pipeline, which this drill does not drive yet
        raise DrillRefused(f"{fw} runs {platform}: firewall-restore can restore "
                           f"{', '.join(supported_platforms())} only; restore a {platform} device through the "
                           "network pipeline (vendor API), not this drill")
    if platform != inv.device(fw).platform:
        r.finding("warning", f"{fw} is {inv.device(fw).platform} in the inventory; this {r.environment['kind']} run "
                  f"restores a {platform} stand-in — it proves the drill, not the device's restore")
    checks = checks_for(fw, ctx.options)
    backups = Path(ctx.options.get("backups_dir") or DEFAULT_BACKUPS)
    backup = Path(ctx.options["backup"]) if ctx.options.get("backup") else newest_backup(backups, fw)
    if backup is None:
        r.finding("warning", f"no backup of {fw} under {backups}: took one from the device at the start "
                  "(this proves the restore path, not the content)")
        pb = ctx.playbook("netdev-backup.yml", {"netdev_hosts": fw, "netdev_backup_dir": str(backups)}, check=False)
        backup = newest_backup(backups, fw)
        if not pb.ok or backup is None:
            raise DrillRefused(f"could not take a backup of {fw}")
    if not backup.is_file():
        raise DrillRefused(f"backup {backup} does not exist")
    r.details["backup"] = str(backup)
    r.event("backup chosen", host=fw, detail=str(backup))
    pb = ctx.playbook(PLAYBOOK, {"drill_fw": fw, "drill_fw_restore_backup": str(backup.resolve()),
                                 "drill_fw_restore_checks": checks,
                                 "drill_fw_restore_revert_after_s": int(ctx.options.get("revert_after_s", 120))})
    running = pb.custom.get("drill_fw_running", {}).get(fw)
    if running is not None:
        import difflib
        wanted = backup.read_text(encoding="utf-8")
        diff = "\n".join(difflib.unified_diff(running.strip().splitlines(), wanted.strip().splitlines(),
                                               f"{fw} running", f"{backup.name} (last good)", lineterm=""))
        now = rec_iso()
        r.steps.append(StepRecord("difference: running configuration → last good backup", "info", fw, now, now,
                                  0.0, "identical" if not diff else f"{diff.count(chr(10)) + 1} diff lines",
                                  "dcops", diff))
    res = pb.custom.get("drill_fw_checks", {})
    r.details["policy_checks"] = res
    before = res.get("before")
    if before:
        n = len(before["violations"])
        r.event("traffic policy before the restore", host=fw, detail=f"{n} violation(s): {'; '.join(before['violations'])}")
        if n:
            r.finding("info", f"before the restore {n} check(s) were violated: {'; '.join(before['violations'])}")
    marks = pb.custom.get("drill_marks", {}).get(fw, {})
    if "restore_start" in marks:
        r.event("last good configuration loaded (automatic revert armed)", host=fw, at=marks["restore_start"])
    after = res.get("after")
    if after:
        for name, expect, state in after["results"]:
            connected = state == "started"
            ok = connected == (expect == "allow")
            r.check(f"policy: {name}", ok, f"expected {expect}, {'connected' if connected else 'blocked'}", host=fw)
    if ctx.execute and "verified" in marks:
        r.event("traffic policy verified; restore confirmed", host=fw, at=marks["verified"])
        rto = (parse_time(marks["verified"]) - parse_time(marks["restore_start"])).total_seconds()
        limit = target_s()
        r.measurements.append(Measurement("rto", round(rto, 3), "s", fw, limit, rto <= limit,
                                          "load last good configuration → traffic policy verified",
                                          scale="" if ctx.production else "Linux/nftables stand-in for the firewall"))
    elif ctx.execute and pb.ok:
        r.finding("error", "the playbook ended without verifying the restore")
    _fw_state(ctx, fw, marks, int(ctx.options.get("revert_after_s", 120)))


def _fw_state(ctx: DrillContext, fw: str, marks: dict, revert_s: int) -> None:
    """The firewall's configuration after the drill, and whether an automatic revert is still pending."""
    r = ctx.record
    if not ctx.execute:
        r.state("firewall configuration", "unchanged (check mode)", host=fw)
    elif "verified" in marks:
        r.state("firewall configuration", "last good configuration running and confirmed; automatic revert "
                "disarmed", host=fw, revert="disarmed")
    elif "rolled_back" in marks:
        r.state("firewall configuration", "rolled back to the pre-drill configuration; automatic revert disarmed",
                host=fw, revert="disarmed")
    elif "revert_armed" in marks:
        deadline = parse_time(marks["revert_armed"]) + dt.timedelta(seconds=revert_s)
        r.state("firewall configuration", f"UNCONFIRMED: automatic revert to the pre-drill configuration pending "
                f"at {deadline.isoformat()}", host=fw, ok=False, revert="pending",
                revert_deadline=deadline.isoformat(),
                detail="the drill lost the device before confirming or rolling back; check the device after "
                       "the deadline")
    else:
        r.state("firewall configuration", "untouched (the drill stopped before the restore)", host=fw)
