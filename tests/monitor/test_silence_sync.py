"""Issue 13: "the same maintenance windows as silences". `dcops monitor silences` carries the embedded monitor's
windows to Debian's Alertmanager 0.25 (started here on 127.0.0.1): one silence per current or future window,
the same target, span, reason and author, read back through Alertmanager's own API; an alert of a silenced
device is suppressed by Alertmanager itself; a second run creates nothing; a window Alertmanager cannot take is
reported and fails the run; the dry run writes nothing."""
import datetime as dt
import json
import subprocess
import sys
import time

import httpx
import pytest

from dcops.model import load_inventory
from dcops.monitor.alerts import add_silence, load_rules
from dcops.monitor.scaleout import bundle, write
from dcops.monitor.silence_sync import sync
from dcops.monitor.stack import ALERTMANAGER_BIN, StackError, find_binary, start_alertmanager
from dcops.monitor.store import Store
from dcops.monitor.web.alertsource import AlertmanagerSource, SourceError

try:
    find_binary(ALERTMANAGER_BIN)
    HAVE_AM = True
except StackError:
    HAVE_AM = False
pytestmark = [pytest.mark.skipif(not HAVE_AM, reason="Debian's prometheus-alertmanager not installed"),
              pytest.mark.slow]
SITE = "kg-dc"


def _iso(ts):
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat().replace("+00:00", "Z")


@pytest.fixture
def am(tmp_path):
    b = bundle(load_inventory(), load_rules(), exporters=["127.0.0.1:9118"], alertmanagers=[])
    write(b, tmp_path / "bundle")
    h = start_alertmanager(tmp_path / "bundle" / "alertmanager.yml", tmp_path / "am")
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "noc.db")
    st.register_device("kg-ups-01", "ups-rfc1628", "ups", "UPS trung tâm 80 kVA")
    st.register_device("kg-crac-01", "liebert-cooling", "cooling", "Điều hòa chính xác số 1")
    now = time.time()
    ids = {
        "ups": add_silence(st, "device:kg-ups-01", now - 600, now + 7200, "Thay ắc quy UPS", "lan"),
        "cooling": add_silence(st, "group:cooling", now + 3600, now + 10800, "Bảo dưỡng điều hòa", "minh"),
        "site": add_silence(st, "*", now - 60, now + 1800, "Diễn tập mất điện", "lan"),
        "network": add_silence(st, "group:network", now, now + 600, "Không có thiết bị mạng nào", "lan"),
        "over": add_silence(st, "device:kg-crac-01", now - 7200, now - 3600, "Đã xong", "minh"),
    }
    return st, ids


def _silences(url):
    return [s for s in httpx.get(f"{url}/api/v2/silences", timeout=5).json()
            if s["status"]["state"] in ("active", "pending")]


def _matchers(s):
    return {(m["name"], m["value"], m["isRegex"]) for m in s["matchers"]}


def test_windows_become_silences_once_and_alertmanager_suppresses_the_device(am, store):
    st, ids = store
    src = AlertmanagerSource(am.url, st, site=SITE)
    dry = sync(st, src)
    assert [c["window"] for c in dry.created] == [ids["ups"], ids["cooling"], ids["site"]]
    assert all(c["silence"] is None for c in dry.created) and _silences(am.url) == []
    assert [r["window"] for r in dry.refused] == [ids["network"]]
    assert dry.refused[0]["error"] == "no device of group network"  # this store polls no network device
    assert dry.ended == 1 and dry.ok is False

    done = sync(st, src, execute=True)
    made = {c["window"]: c["silence"] for c in done.created}
    assert set(made) == {ids["ups"], ids["cooling"], ids["site"]} and all(made.values())
    got = {s["id"]: s for s in _silences(am.url)}
    assert set(got) == set(made.values())
    ups, cooling, site = (got[made[ids[k]]] for k in ("ups", "cooling", "site"))
    assert _matchers(ups) == {("device", "kg-ups-01", False), ("site", SITE, False)}
    assert _matchers(site) == {("site", SITE, False)}
    assert ("site", SITE, False) in _matchers(cooling) and any(
        n == "kind" and rx and "cooling" in v for n, v, rx in _matchers(cooling))
    assert cooling["status"]["state"] == "pending"  # a future window stays future
    assert ups["createdBy"] == "lan" and ups["comment"] == f"Thay ắc quy UPS [dcops-window:{ids['ups']}]"
    with st.read() as db:
        ends = db.execute("SELECT ends FROM silences WHERE id=?", (ids["ups"],)).fetchone()[0]
    assert abs(dt.datetime.fromisoformat(ups["endsAt"].replace("Z", "+00:00")).timestamp() - ends) < 1

    # Alertmanager itself suppresses the silenced device's alert, not the other device's
    now = time.time()
    body = [{"labels": {"alertname": a, "device": d, "site": SITE, "kind": k, "severity": "critical"},
             "startsAt": _iso(now - 30), "endsAt": _iso(now + 600)}
            for a, d, k in (("DcopsUpsOnBattery", "kg-ups-01", "ups"), ("DcopsDeviceUnreachable", "kg-crac-01", "cooling"))]
    assert httpx.post(f"{am.url}/api/v2/alerts", json=body, timeout=5).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = {a["labels"]["device"]: a["status"] for a in httpx.get(f"{am.url}/api/v2/alerts", timeout=5).json()}
        if len(states) == 2:
            break
        time.sleep(0.3)
    assert made[ids["ups"]] in states["kg-ups-01"]["silencedBy"]
    assert made[ids["cooling"]] not in states["kg-crac-01"]["silencedBy"]  # the cooling window is tomorrow's

    again = sync(st, src, execute=True)
    assert again.created == [] and {p["window"]: p["silence"] for p in again.present} == made
    assert len(_silences(am.url)) == 3


def test_cli_reports_json_and_fails_on_a_refused_window(am, store, tmp_path):
    st, ids = store
    cmd = [sys.executable, "-m", "dcops.cli", "monitor", "silences", "--alertmanager", am.url, "--db",
           str(tmp_path / "noc.db"), "--site", SITE, "--json"]
    dry = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 1, dry.stderr
    out = json.loads(dry.stdout)
    assert (out["execute"], out["ok"], len(out["created"]), len(out["refused"]), out["ended"]) == (False, False, 3, 1, 1)
    assert _silences(am.url) == []
    run = subprocess.run([*cmd, "--execute"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and len(json.loads(run.stdout)["created"]) == 3 and len(_silences(am.url)) == 3


def test_an_unreachable_alertmanager_is_an_error_not_an_empty_sync(store, tmp_path):
    st, _ids = store
    with pytest.raises(SourceError):
        sync(st, AlertmanagerSource("http://127.0.0.1:9", st, site=SITE, timeout=1), execute=True)
    proc = subprocess.run([sys.executable, "-m", "dcops.cli", "monitor", "silences", "--alertmanager",
                           "http://127.0.0.1:9", "--db", str(tmp_path / "noc.db")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1 and "Alertmanager:" in proc.stderr + proc.stdout
