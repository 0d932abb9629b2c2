"""Issue §5: what the pipeline must prove with real traffic in the namespace lab.

One data-centre lab per module (firewall stand-in, zone hosts, link balancer,
two ISPs, internet host), built from the shipped inventory; every test leaves
the devices as it found them and the fixture removes every namespace/process.
"""
import ipaddress
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dcops.lab import Lab, can_run, state
from dcops.lab.datacentre import build, spec_from_inventory
from dcops.lab.netns import list_namespaces
from dcops.lab.prober import outage
from dcops.model import load_inventory
from dcops.net import fleet, objects
from dcops.net.push import Pusher

pytestmark = pytest.mark.lab
FW, LB = "lab-fw1", "kg-lb-01"


class DC:
    def __init__(self, lab, inv, spec, targets, backups):
        self.lab, self.inv, self.spec, self.targets, self.backups = lab, inv, spec, targets, backups
        self.defs = objects.load(inv)

    def rulesets(self):
        return {FW: self.lab.ruleset("fw1"), LB: self.lab.ruleset("lb")}

    def pusher(self, **kw):
        kw.setdefault("confirm_timeout", 30)
        kw.setdefault("connect_timeout", 5)
        kw.setdefault("command_timeout", 8)
        return Pusher(self.backups, commit=True, **kw)

    def target(self, name, candidate=None):
        t = self.targets[name]
        return type(t)(t.name, t.platform, candidate or t.candidate, t.endpoint, t.extension)

    def host_addr(self, zone, obj=None):
        """An address the lab gives a zone host — inside object `obj` when given."""
        z = next(z for z in self.spec.zones if z.zone == zone)
        addrs = [a.split("/")[0] for a in z.addresses]
        if obj is None:
            return addrs[0]
        nets = [ipaddress.ip_network(n) for n in self.defs.networks[obj]]
        return next(a for a in addrs if any(ipaddress.ip_address(a) in n for n in nets))

    def wait(self, predicate, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            time.sleep(0.2)
        return predicate()


@pytest.fixture(scope="module")
def dc(tmp_path_factory):
    if not can_run():
        pytest.skip("needs root, network namespaces and OpenSSH server")
    inv = load_inventory()
    lab = Lab(f"dcn{secrets.token_hex(2)}-")
    created = []
    try:
        spec = spec_from_inventory(inv)
        meta = build(lab, spec)
        from dcops.lab.cli import _start_lbcheck
        meta["lbcheck"] = _start_lbcheck(lab, inv, spec.lb_name)
        with state.edit(lab.name) as st:
            st["meta"].update(meta)
        created = list(state.read(lab.name)["namespaces"])
        targets = {m.device.name: fleet.target(m) for m in fleet.members(inv, lab=lab.name)}
        d = DC(lab, inv, spec, targets, tmp_path_factory.mktemp("backups"))
        report = d.pusher().run(list(targets.values()))
        assert report.ok, report.summary()
        d.baseline = d.rulesets()
        yield d
    finally:
        lab.down()
        assert not set(created) & set(list_namespaces()), "namespaces left behind"


def test_allowed_flows_connect_and_denied_flows_are_blocked(dc):
    c = dc.lab.connect
    db = dc.host_addr("db")
    waf = dc.host_addr("dmz", "DEV_WAF")
    allowed = [
        ("wan", dc.host_addr("app", "SYS_MOTCUA_APP"), 443, None),          # WAN → one-stop
        ("wan", dc.host_addr("dmz", "SYS_QLVB_DMZ"), 443, None),            # WAN → QLVB
        ("app", db, 5432, None),                                            # app → DB port
        ("mgmt", db, 22, None),                                             # management → all (SSH)
        ("lb", waf, 443, None),                                             # internet (edge) → WAF
        ("dmz", dc.host_addr("app", "SYS_MAIL_APP"), 25, dc.host_addr("dmz", "DEV_ANTISPAM")),  # mail via anti-spam
    ]
    denied = [
        ("wan", db, 5432, None),       # WAN never reaches databases
        ("dmz", db, 5432, None),       # DMZ never reaches databases
        ("lb", dc.host_addr("app"), 443, None),  # internet never reaches the app zone directly
        ("lb", waf, 22, None),         # nor SSH in the DMZ
        ("app", dc.host_addr("mgmt"), 22, None),  # app → management is closed
        ("app", db, 22, None),         # app → DB only on database ports
    ]
    for src, dst, port, source in allowed:
        assert c(src, dst, port, source=source), f"{src} → {dst}:{port} should be allowed"
    for src, dst, port, source in denied:
        assert c(src, dst, port, source=source, timeout=0.4) is None, f"{src} → {dst}:{port} should be blocked"


def test_unconfirmed_commit_reverts_by_itself(dc):
    """The operator loses the device right after commit: nobody confirms, the device reverts on its own."""
    import threading
    before = dc.rulesets()
    changed = dc.target(FW, dc.targets[FW].candidate.replace("tcp dport 22 accept", "tcp dport 2222 accept"))
    committed = {}

    def hook(device, step, phase):
        if (device, step, phase) == (FW, "commit", "done"):
            committed["at"] = time.monotonic()
            dc.lab.cut_link("mgmt", "eth0")  # the operator side goes dark
    result = {}
    push = threading.Thread(target=lambda: result.update(r=dc.pusher(confirm_timeout=12, connect_timeout=2,
                                                                     command_timeout=3, hook=hook).run([changed])))
    push.start()
    try:
        assert dc.wait(lambda: "at" in committed, 20)
        assert "2222" in dc.lab.ruleset("fw1")  # the change is live, unconfirmed
        assert dc.wait(lambda: dc.lab.ruleset("fw1") == before[FW], 12)
        reverted_after = time.monotonic() - committed["at"]
        assert 11 <= reverted_after < 12 + 2, reverted_after  # by itself, when its 12 s ran out
        push.join(60)
        out = result["r"].outcomes[0]
        assert out.failed_step == "verify" and out.state in ("reverting", "reverted"), out.as_dict()
        assert not out.committed
    finally:
        dc.lab.restore_link("mgmt", "eth0")
        push.join(60)
    assert dc.rulesets() == before


def test_lost_ssh_session_mid_push_leaves_old_config(dc):
    before = dc.rulesets()
    changed = dc.target(FW, dc.targets[FW].candidate.replace("tcp dport 22 accept", "tcp dport 2222 accept"))

    def hook(device, step, phase):
        if (device, step, phase) == (FW, "commit", "start"):
            assert dc.lab.kill_sessions("fw1") >= 1
    report = dc.pusher(hook=hook).run([changed])
    out = report.outcomes[0]
    assert out.failed_step == "commit" and "SSH" in out.error, out.as_dict()
    assert dc.rulesets() == before


def test_rollback_restores_previous_ruleset_byte_for_byte(dc):
    before = dc.rulesets()
    extra = dc.targets[FW].candidate + "\ntable inet audit {\n chain out {\n  type filter hook output priority 10; policy accept;\n }\n}\n"
    assert dc.pusher().run([dc.target(FW, extra)]).ok
    assert "table inet audit" in dc.lab.ruleset("fw1")
    cli = [sys.executable, "-m", "dcops.cli", "net", "rollback", FW, "--lab", dc.lab.name, "--backups", str(dc.backups)]
    proc = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert dc.lab.ruleset("fw1") == before[FW]
    # and to a named backup: the one taken before the change above
    report = dc.pusher().run([dc.target(FW, extra)])
    assert report.ok and "table inet audit" in dc.lab.ruleset("fw1")
    taken_before_change = report.outcomes[0].backup
    proc = subprocess.run(cli + ["--to", taken_before_change.name, "--confirm-timeout", "10", "--connect-timeout", "2",
                                 "--command-timeout", "2"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert dc.lab.ruleset("fw1") == before[FW]


def test_fleet_push_with_one_failure_leaves_every_device_as_it_was(dc):
    before = dc.rulesets()
    fw_changed = dc.target(FW, dc.targets[FW].candidate.replace('"SNMP from management"', '"SNMP (NOC)"'))
    # a link-balancer ruleset that locks management out: the commit cannot be verified
    lockout = "flush ruleset\ntable inet lockout {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n"
    report = dc.pusher(confirm_timeout=12, connect_timeout=2, command_timeout=3).run([fw_changed, dc.target(LB, lockout)])
    by = {o.device: o for o in report.outcomes}
    assert not report.ok
    assert by[LB].failed_step in ("commit", "verify"), by[LB].as_dict()
    assert by[FW].state == "rolled-back" and by[FW].failed_step is None
    assert LB in report.summary()
    assert dc.lab.ruleset("fw1") == before[FW]            # rolled back at once
    assert by[LB].state == "reverting" and not report.committed, by[LB].as_dict()
    assert dc.wait(lambda: dc.lab.ruleset("lb") == before[LB], 20)  # unreachable: reverted by its own timer


def test_invalid_ruleset_changes_nothing_and_says_why(dc):
    before = dc.rulesets()
    bad = dc.targets[FW].candidate.replace("policy drop;", "policy dropp;", 1)
    report = dc.pusher().run([dc.target(FW, bad), dc.targets[LB]])
    by = {o.device: o for o in report.outcomes}
    assert by[FW].failed_step == "load" and "nft -c" in by[FW].error and "dropp" in by[FW].error
    assert dc.rulesets() == before


def test_link_balancer_survives_far_end_line_failure(dc):
    lab = dc.lab
    st_file = Path(state.read(lab.name)["meta"]["lbcheck"]["state"])
    lines = lambda: json.loads(st_file.read_text())["lines"]  # noqa: E731
    assert dc.wait(lambda: all(v["up"] for v in lines().values()), 5)
    inet = dc.spec.internet_host
    mirror = dc.host_addr("app", "SYS_HA_TANG_APP")  # the update mirror may reach the internet

    def sources(n=24):
        seen = set()
        for _ in range(n):
            r = lab.connect("app", inet, 80, source=mirror)
            if r:
                seen.add(r.split()[-1])
        return seen
    publics = {str(ipaddress.ip_network(ln.public_prefix).network_address + 1) for ln in dc.spec.lines}
    assert sources() == publics  # both lines carry new connections (per-line NAT shows which)

    out = lab.workdir / "prober.json"
    pid = lab.spawn("app", [sys.executable, "-m", "dcops.lab.prober", "--target", f"{inet}:80", "--duration", "4",
                            "--source", mirror,
                            "--out", str(out)], what="prober")
    time.sleep(1.0)
    cut_at = time.time()
    lab.cut_link(dc.spec.lines[0].isp, "down0")     # far end: the lb keeps its carrier
    try:
        assert "state UP" in lab.exec("lb", ["ip", "link", "show", dc.spec.lines[0].interface]).stdout
        assert dc.wait(out.exists, 10)
        records = json.loads(out.read_text())
        lost = outage(records, cut_at)
        print(f"\nleased-line failover: new connections failed for {lost * 1000:.0f} ms")
        assert lost < 5, "new connections never recovered"
        assert all(r[2] for r in records if r[0] > cut_at + lost)
        assert not lines()[dc.spec.lines[0].name]["up"]
    finally:
        lab.restore_link(dc.spec.lines[0].isp, "down0")
        lab.stop(pid)
    assert dc.wait(lambda: all(v["up"] for v in lines().values()), 5)
    assert sources() == publics  # both lines in use again


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "dcops.cli", "net", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_backup_diff_and_dry_run_push(dc):
    before = dc.rulesets()
    bk = dc.backups / "cli"
    proc = _cli("backup", "--lab", dc.lab.name, "--backups", str(bk), "--json")
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(proc.stdout)
    assert {r["device"] for r in saved} == {FW, LB} and all(r["ok"] for r in saved)
    assert Path(saved[0]["file"]).read_text().startswith("flush ruleset\n")
    # rendered == running right after the baseline push: empty diff
    proc = _cli("diff", FW, "--lab", dc.lab.name)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    # against the last backup, without contacting the device: canonical forms, so no difference either
    proc = _cli("diff", FW, "--lab", dc.lab.name, "--backup", "latest", "--backups", str(bk))
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    older = bk / FW / "20000101T000000.000000Z.nft"
    older.write_text(Path(saved[0]["file"]).read_text().replace("tcp dport 22 accept", "tcp dport 2022 accept"))
    proc = _cli("diff", FW, "--lab", dc.lab.name, "--backup", older.name, "--backups", str(bk))
    assert proc.returncode == 0 and "-" + "\t" * 2 + "ip saddr" in proc.stdout and "2022" in proc.stdout, proc.stdout
    # dry run is the default: nothing changes, exit 0, per-device result
    proc = _cli("push", "--lab", dc.lab.name, "--backups", str(bk), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["mode"] == "dry-run" and report["committed"] == [] and report["lint"] == "passed"
    assert {d["state"] for d in report["devices"]} == {"unchanged"}
    assert dc.rulesets() == before
    proc = _cli("diff", "no-such-device", "--lab", dc.lab.name)
    assert proc.returncode == 1 and "unknown device(s)" in proc.stderr


def test_cli_failed_push_names_device_and_step(dc):
    """The CLI's exit status and one-line reason when a device refuses the candidate."""
    before = dc.rulesets()
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys, json; from pathlib import Path; from dcops.net.push import Pusher, Target; "
         "from dcops.net.connect import Endpoint; "
         f"e = json.loads({json.dumps(json.dumps(state.read(dc.lab.name)['meta']['endpoints'][FW]))}); "
         "ep = Endpoint(e['host'], e['username'], e['port'], e['key_file'], None, e['netns'], host_key_check=False); "
         "r = Pusher(Path(sys.argv[1]), commit=True, timeout=5).run([Target('lab-fw1', 'linux', 'table inet x {', ep, 'nft')]); "
         "print(r.summary())", str(dc.backups)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("lab-fw1 failed at load: "), proc.stdout + proc.stderr
    assert dc.rulesets() == before


def test_device_whose_commit_never_ran_is_not_rolled_back_to_an_older_config(dc):
    """LB's session dies before its commit while the firewall commits: the firewall is rolled back,
    the link balancer — unchanged — must not be 'rolled back' to the config of an earlier commit."""
    before = dc.rulesets()
    fw_changed = dc.target(FW, dc.targets[FW].candidate.replace('"SNMP from management"', '"SNMP (NOC)"'))
    lb_changed = dc.target(LB, dc.targets[LB].candidate.replace('"SNMP from management"', '"SNMP (NOC)"'))

    def hook(device, step, phase):
        if (device, step, phase) == (LB, "commit", "start"):
            dc.lab.kill_sessions("lb")
    report = dc.pusher(hook=hook).run([fw_changed, lb_changed])
    by = {o.device: o for o in report.outcomes}
    assert by[LB].failed_step == "commit" and by[LB].state == "failed", by[LB].as_dict()
    assert by[FW].state == "rolled-back", by[FW].as_dict()
    assert dc.rulesets() == before


_RACER = """
import json, sys, time
from pathlib import Path
import typer
from dcops.net import cli
from dcops.net.connect import Endpoint
from dcops.net.push import Pusher, Target
n, folder, device = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
e = json.loads(sys.argv[4])
ep = Endpoint(e['host'], e['username'], e['port'], e['key_file'], None, e['netns'], host_key_check=False)
candidate = (folder / f"candidate-{n}.nft").read_text()

def hook(dev, step, phase):  # every operator is connected before anyone loads: the races are real
    if (step, phase) == ("connect", "done"):
        (folder / f"ready-{n}").touch()
        while not (folder / "go").exists():
            time.sleep(0.01)
report = Pusher(folder / "backups", commit=True, confirm_timeout=60, connect_timeout=10, command_timeout=10,
                hook=hook).run([Target(device, 'linux', candidate, ep, 'nft')])
try:
    cli._report(report, as_json=False)
except typer.Exit as x:
    sys.exit(x.exit_code)
"""


def test_twenty_concurrent_pushes_one_wins_the_rest_are_told_busy(dc, tmp_path):
    """Issue 15 §1: 20 operators push 20 different candidates to one device at the same moment."""
    ep = json.dumps(state.read(dc.lab.name)["meta"]["endpoints"][FW])
    base = dc.targets[FW].candidate
    for n in range(20):
        (tmp_path / f"candidate-{n}.nft").write_text(
            base.replace('"SNMP from management"', f'"SNMP from management (operator {n})"'))
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, str(n), str(tmp_path), FW, ep],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(20)]
    try:
        if not dc.wait(lambda: len(list(tmp_path.glob("ready-*"))) == 20 or any(p.poll() is not None for p in procs),
                       180):
            pytest.fail("not every operator connected within 180 s")
        quit_early = [(n, p.returncode, p.communicate()[1][-500:]) for n, p in enumerate(procs) if p.poll() is not None]
        assert not quit_early, quit_early
        (tmp_path / "go").touch()
        results = [(p.wait(180), *p.communicate()) for p in procs]
        winners = [n for n, (rc, _, _) in enumerate(results) if rc == 0]
        assert len(winners) == 1, [(rc, err[-300:]) for rc, _, err in results]
        running = dc.lab.ruleset("fw1")
        assert f"(operator {winners[0]})" in running
        assert sum(f"(operator {n})" in running for n in range(20)) == 1
        for n, (rc, out, err) in enumerate(results):
            if n != winners[0]:
                assert rc != 0 and "device busy: locked by" in " ".join(err.split()), (n, rc, out, err)
        assert "confirmed" in results[winners[0]][1]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert dc.pusher().run([dc.targets[FW]]).ok  # back to the baseline for the next tests


def test_a_term_naming_a_management_address_never_opens_app_to_management(dc, tmp_path):
    """Issue 15 §2: an app → db term that names a management host (lint refuses it; pushed anyway with
    --no-lint semantics) still cannot admit app → mgmt traffic: the nftables term matches the zones'
    interfaces, not just addresses."""
    import shutil
    from dcops.net import render
    from dcops.net.connect import resolve_placeholders
    from dcops.net.paths import POLICY_DIR
    mgmt_host = dc.host_addr("mgmt")
    assert dc.lab.connect("mgmt", mgmt_host, 22)  # the SSH responder is there
    shutil.copytree(POLICY_DIR, tmp_path / "policy")
    (tmp_path / "policy" / "definitions" / "mgmt-host.yaml").write_text(
        f"networks:\n  MGMT_HOST:\n    values:\n      - address: {mgmt_host}/32\n")
    pol = (tmp_path / "policy" / "datacenter.yaml").read_text()
    pol = pol.replace("""      - name: app-to-db
""", """      - name: app-db-names-mgmt
        destination-address: MGMT_HOST
        destination-port: SSH
        protocol: tcp
        action: accept
      - name: app-to-db
""")
    (tmp_path / "policy" / "datacenter.yaml").write_text(pol)
    fw, topo = fleet.stand_in(dc.inv)
    rendered = render.render_device(render.RenderContext.build(dc.inv, tmp_path / "policy", topo), fw)
    assert f"ip daddr {mgmt_host}/32 tcp dport 22" in rendered.config
    try:
        assert dc.pusher().run([dc.target(FW, resolve_placeholders(rendered.config))]).ok
        assert "app-db-names-mgmt" in dc.lab.ruleset("fw1")
        assert dc.lab.connect("app", mgmt_host, 22, timeout=0.5) is None, "app → management SSH must be refused"
        assert dc.lab.connect("app", dc.host_addr("db"), 5432)   # the filter still does its own job
    finally:
        assert dc.pusher().run([dc.targets[FW]]).ok


def test_offline_dry_run_diffs_against_the_confirmed_config(dc):
    """Issue 15 §5: push A; the device becomes unreachable; a dry run of B shows exactly A → B."""
    a = dc.target(FW, dc.targets[FW].candidate.replace('"SNMP from management"', '"SNMP (change A)"'))
    b = dc.target(FW, dc.targets[FW].candidate.replace('"SNMP from management"', '"SNMP (change B)"'))
    try:
        report = dc.pusher().run([a])
        assert report.ok and report.committed == [FW]
        after = report.outcomes[0].backup_after
        assert after is not None and '"SNMP (change A)"' in after.read_text()
        dc.lab.cut_link("mgmt", "eth0")
        try:
            dry = Pusher(dc.backups, commit=False, connect_timeout=2, command_timeout=3).run([b])
        finally:
            dc.lab.restore_link("mgmt", "eth0")
        out = dry.outcomes[0]
        assert out.failed_step == "connect" and after.name in out.error, out.as_dict()
        changed = [ln for ln in out.diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
        assert len(changed) == 2, out.diff
        assert '"SNMP (change A)"' in changed[0] and changed[0].startswith("-")
        assert '"SNMP (change B)"' in changed[1] and changed[1].startswith("+")
    finally:
        assert dc.pusher().run([dc.targets[FW]]).ok
