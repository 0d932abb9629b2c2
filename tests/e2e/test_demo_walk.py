"""Issue 7 end to end: a change and an incident walked through the running `dcops demo`.

PR-like change (new VM + firewall rule, on temp copies of inventory/ and network_configs/) →
validate → plan --diff (+1 instance with its volumes) → net diff (the new rule) → push with
commit-confirm → real traffic allowed → mains-failure scenario → alert in the dashboard
(Chromium) → UPS power-loss drill in check mode prints a shutdown order → Ctrl-C leaves no
namespace and no process. Screenshots: $DCOPS_SCREENSHOT_DIR (docs/screenshots/ is made so).
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dcops
from dcops.lab import Lab, can_run

from .conftest import PASSWORD, assert_nothing_left, dcops as run, recorded, shot_dir

pytestmark = [pytest.mark.lab, pytest.mark.slow,
              pytest.mark.skipif(not can_run(), reason="needs root, network namespaces and OpenSSH server")]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

NEW_VM = """
  - name: qlns-api-01
    tenant: so-tc
    system: qlns
    zone: app
    flavor: m1.medium
    image: ubuntu-22.04
    ip: 10.20.20.92
    volumes:
      - {name: data, size_gb: 200, pool: silver}
    backup_policy: snap-daily-7d
"""
NEW_RULE = """      - name: wan-to-qlns-https
        comment: Huyện, sở dùng Quản lý ngân sách (QLNS) qua mạng chuyên dùng
        destination-address: SYS_QLNS_APP
        destination-port: HTTPS
        protocol: tcp
        action: accept
        logging: true

"""
ANCHOR = "  - header:\n      comment: Vùng quản trị → mọi vùng"
QLNS_OLD, QLNS_NEW = "10.20.20.73", "10.20.20.92"


def make_change(tmp: Path) -> tuple[Path, Path]:
    inv = tmp / "inventory"
    nc = tmp / "network_configs"
    shutil.copytree(dcops.DEFAULT_INVENTORY, inv)
    shutil.copytree(dcops.PROJECT_ROOT / "network_configs", nc)
    with open(inv / "vms" / "so-tc.yaml", "a", encoding="utf-8") as f:
        f.write(NEW_VM)
    pol = nc / "policy" / "datacenter.yaml"
    text = pol.read_text(encoding="utf-8")
    assert text.count(ANCHOR) == 1
    pol.write_text(text.replace(ANCHOR, NEW_RULE + ANCHOR), encoding="utf-8")
    return inv, nc


def markdown_page(md: str) -> str:
    from markdown_it import MarkdownIt
    # the machine has no emoji font: the PR comment's signs as plain text
    for sign, text in (("➕", "+"), ("➖", "−"), ("✏️", "~"), ("⚠️", "!"), ("❌", "✗"), ("✅", "✓"), ("🛡️", "protected")):
        md = md.replace(sign, text)
    body = MarkdownIt("commonmark").enable("table").render(md)
    return ("<html><head><meta charset='utf-8'><style>body{font-family:sans-serif;margin:24px;max-width:1100px}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
            "code{background:#f3f3f3;padding:1px 3px}</style></head><body>" + body + "</body></html>")


def test_change_and_incident_walk(tmp_path, start_demo):
    t0 = time.monotonic()
    demo = start_demo()   # baseline: the shipped inventory and policy, pushed by the demo
    lab = Lab(f"{demo.lab_name}-", name=demo.lab_name)
    shots = shot_dir(tmp_path)
    assert "Real traffic through the pushed firewall policy — 5 flows as the policy says" in demo.output

    # -- the pull request: a VM and a firewall rule, on copies
    inv, nc = make_change(tmp_path)
    env = {"DCOPS_NETWORK_CONFIGS": str(nc)}
    assert "inventory OK" in run("validate", "-i", inv).stdout
    old_plan = tmp_path / "plan-main.json"
    run("plan", "--json", old_plan)
    diff = run("plan", "-i", inv, "--diff", old_plan).stdout
    added = [ln for ln in diff.splitlines() if ln.startswith("+ ")]
    assert "to change, 0 to delete" in diff.splitlines()[0], diff
    assert sum("qlns-api-01" in ln and "Instance" in ln for ln in added) == 1, diff
    assert any("qlns-api-01" in ln and "Volume" in ln for ln in added), diff
    # nothing else is added but the system's spread group; only the tenant's quotas change
    assert all("qlns-api-01" in ln or ("ServerGroup" in ln and "qlns" in ln) for ln in added), diff
    changed = [ln for ln in diff.splitlines() if ln.startswith("~ ")]
    assert changed and all(ln.rstrip().endswith("-so-tc") for ln in changed), diff
    md = tmp_path / "plan-diff.md"
    run("plan", "-i", inv, "--diff", old_plan, "--markdown", "-o", md)

    # -- the rule is new to the running firewall, and the traffic is blocked before the push
    ndiff = run("net", "diff", "lab-fw1", "--lab", demo.lab_name, "-i", inv, env=env).stdout
    plus = [ln for ln in ndiff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    rule = [ln for ln in plus if "wan-to-qlns-https" in ln and "accept" in ln]
    assert len(rule) == 1 and QLNS_NEW in rule[0] and "tcp dport 443" in rule[0], ndiff
    assert any(ln.strip() == "+jump wan-to-qlns-https" or ln[1:].strip() == "jump wan-to-qlns-https" for ln in plus), ndiff
    assert len(plus) <= 8, ndiff          # the new chain and its jump, nothing else
    lab.addr("app", "eth0", f"{QLNS_NEW}/23")          # the new VM boots (what `pulumi up` would do)
    assert lab.connect("wan", QLNS_OLD, 443, timeout=0.5) is None
    assert lab.connect("wan", QLNS_NEW, 443, timeout=0.5) is None

    push = run("net", "push", "--lab", demo.lab_name, "-i", inv, "--commit", "--confirm-timeout", "30",
               "--backups", tmp_path / "backups", "--json", env=env)
    import json
    outcomes = {o["device"]: o for o in json.loads(push.stdout)["devices"]}
    assert outcomes["lab-fw1"]["state"] == "confirmed", outcomes
    assert lab.connect("wan", QLNS_OLD, 443), "the new rule does not let WAN reach QLNS"
    assert lab.connect("wan", QLNS_NEW, 443), "the new rule does not let WAN reach the new VM"
    assert lab.connect("wan", QLNS_NEW, 22, timeout=0.5) is None   # only HTTPS was opened
    assert run("net", "diff", "lab-fw1", "--lab", demo.lab_name, "-i", inv, env=env).stdout == ""

    # -- a colleague's change with a mistake (management SSH on the wrong port): caught, rolled back
    before = lab.ruleset("fw1")
    bad = run("demo", "inject", "bad-firewall-change", "--lab-name", demo.lab_name, env=env).stdout
    assert "caught at verify" in bad and "rolled back — running config identical to before" in bad, bad
    assert lab.ruleset("fw1") == before
    assert lab.connect("wan", QLNS_NEW, 443), "traffic broken after the rollback"

    # -- the incident: mains failure, seen in the dashboard
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        inject = None
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(demo.url + "/login")
            page.fill("#username", "admin")
            page.fill("#password", PASSWORD)
            page.click("#login-button")
            page.wait_for_selector("#nav-overview")
            page.goto(demo.url + "/")
            assert page.is_visible("#dev-kg-ups-01")
            page.screenshot(path=str(shots / "e2e-dashboard.png"), full_page=True)

            inject = subprocess.Popen([sys.executable, "-m", "dcops.cli", "demo", "inject", "mains-failure",
                                       "leased-line-down", "--lab-name", demo.lab_name, "--speed", "3"],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            row, t_inject = None, time.monotonic()
            while row is None and time.monotonic() - t_inject < 20:
                page.goto(demo.url + "/")
                row = page.query_selector('tr.alert-row[data-rule="ups_on_battery"][data-device="kg-ups-01"]')
                time.sleep(0.5)
            assert row is not None, "the UPS-on-battery alert never reached the dashboard"
            assert "đang chạy bằng ắc quy" in row.inner_text()
            assert page.get_attribute("#dev-kg-ups-01 .status", "data-status") == "critical"
            page.screenshot(path=str(shots / "e2e-alert.png"), full_page=True)

            # -- the DR team's answer: the UPS power-loss drill, check mode, runtime read from the UPS
            ups = next(t for t in json.loads(Path(demo.state()["meta"]["demo"]["targets_file"]).read_text())
                       if t["device"] == "kg-ups-01")
            reports = tmp_path / "drills"
            drill = run("drill", "run", "ups-power-loss", "--report", reports, "--quiet",
                        "-o", f"ups_agent=127.0.0.1:{ups['port']}", "-o", "ups_community=kg-ups-01")
            out = drill.stdout
            assert "PASS ups-power-loss (plan)" in out, out
            assert f"(SNMP 127.0.0.1:{ups['port']} upsEstimatedMinutesRemaining)" in out, out  # the live UPS
            waves = [ln for ln in out.splitlines() if " wave " in ln]
            assert len(waves) >= 4 and "vm-level-1" in waves[0] and "hosts-control" in waves[-1], out
            record = json.loads(next(reports.glob("*.json")).read_text())
            assert record["details"]["ups_snmp"]["output_source"] == 5     # on battery, as the scenario set it
            assert record["details"]["plan"]["shutdown"][0]["members"]
            html = next(reports.glob("*.html"))
            page.goto(html.as_uri())
            page.screenshot(path=str(shots / "e2e-drill-report.png"), full_page=True)
            page.set_content(markdown_page(md.read_text(encoding="utf-8")))
            page.screenshot(path=str(shots / "e2e-plan-diff.png"), full_page=True)
        finally:
            browser.close()
            if inject is not None:
                inject.terminate()
                injected = inject.communicate(timeout=30)[0]
    # the leased line failed at the ISP's end; the link balancer's own health checks took it out
    assert "[leased-line-down] link balancer took the line out of service after" in injected, injected
    # new connections hash over the ECMP routes: every one must take the remaining line
    assert all(lab.connect("lb", "100.100.100.100", 80) for _ in range(6)), "the dead line still carries traffic"

    # -- Ctrl-C: everything the demo started is gone
    namespaces, processes = recorded(demo.state())
    assert len(namespaces) >= 10 and len(processes) >= 10
    assert demo.stop(signal.SIGINT) == 0, demo.output
    assert "nothing left behind" in demo.output
    assert_nothing_left(namespaces, processes, f"{demo.lab_name}-")
    print(f"\nend-to-end walk: {time.monotonic() - t0:.0f} s")
