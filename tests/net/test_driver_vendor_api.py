"""Issue 15 §8: FortiOS (REST) and PAN-OS (XML API) drivers against local emulators of the documented APIs.

No vendor VM runs here. The emulators (tests/net/emulators/, documentation links in their docstrings)
enforce the request paths, parameters, authentication and bodies and keep the device state; what is
pushed is the seed's own rendered configuration of its FortiGate (kg-fw-01) and Palo Alto (kg-fw-03),
through the same Pusher as `dcops net push`.
"""
from __future__ import annotations

import concurrent.futures as cf
import re
import secrets
import threading
import time

import pytest

from dcops.model import load_inventory
from dcops.net import backup as backup_mod, render
from dcops.net.connect import Endpoint, resolve_placeholders
from dcops.net.drivers.fortios_rest import FortiOSRestDriver, carry_over
from dcops.net.drivers.locking import DeviceBusy
from dcops.net.drivers.panos_xapi import PanosXapiDriver
from dcops.net.push import Pusher, Target

from .emulators import Server
from .emulators import fortios as fe
from .emulators import panos as pe


@pytest.fixture(scope="module")
def rendered():
    inv = load_inventory()
    ctx = render.RenderContext.build(inv)
    return {n: render.render_device(ctx, inv.device(n)).config for n in ("kg-fw-01", "kg-fw-03")}


@pytest.fixture
def secrets_env(monkeypatch):
    """Obviously-fake values for the rendered configs' secret references, made at run time."""
    for var in ("DCOPS_FW_HA_KEY", "DCOPS_NET_SSH_KEY_PUB", "DCOPS_SNMP_AUTH_KEY", "DCOPS_SNMP_PRIV_KEY"):
        monkeypatch.setenv(var, f"fake-{var.lower()}-{secrets.token_hex(4)}")


def _wait(cond, limit: float = 60.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


# ---------------------------------------------------------------- FortiOS
@pytest.fixture
def fgt(tmp_path):
    token = "emu-" + secrets.token_hex(12)
    dev = fe.FortiGate("kg-fw-01", token)
    with Server(fe.Handler, dev) as srv:
        srv.token = token
        srv.state = tmp_path / "state"
        yield srv


def _fdrv(srv, token=None, state=None, **extra) -> FortiOSRestDriver:
    return FortiOSRestDriver("127.0.0.1", "dcops-api", srv.token if token is None else token, 5,
                             {"port": srv.port, "https": False, "state_dir": str(state or srv.state), **extra})


def _ftarget(srv, text: str, rendered: str | None = None, state=None) -> Target:
    ep = Endpoint("127.0.0.1", "dcops-api", port=srv.port, password=srv.token,
                  extra={"https": False, "state_dir": str(state or srv.state)})
    return Target("kg-fw-01", "fortios", text, ep, "conf", rendered)


def test_fortios_backup_uses_the_documented_endpoint_and_bearer_token(fgt):
    d = _fdrv(fgt)
    d.open()
    assert d.get_config()["running"] == fgt.device.config
    assert ("GET", "/api/v2/monitor/system/config/backup") in fgt.device.requests
    d.close()


def test_fortios_wrong_token_is_refused_clearly_and_changes_nothing(fgt):
    before = fgt.device.config
    d = _fdrv(fgt, token="emu-wrong")
    with pytest.raises(PermissionError, match=r"API token was refused \(401\)"):
        d.open()
    assert fgt.device.config == before and fgt.device.restores == []


def test_fortios_push_of_the_rendered_firewall_confirms_and_keeps_the_api_admin(fgt, rendered, secrets_env, tmp_path):
    text = rendered["kg-fw-01"]
    before = fgt.device.config
    report = Pusher(tmp_path / "b", commit=True, confirm_timeout=60).run(
        [_ftarget(fgt, resolve_placeholders(text), text)])
    o = report.outcomes[0]
    assert (o.state, o.failed_step, report.committed) == ("confirmed", None, ["kg-fw-01"]), o.error
    want = carry_over(resolve_placeholders(text), before)
    assert fgt.device.config == want
    assert fe.api_user_block(fgt.token) in fgt.device.config          # the API (and any revert) still gets in
    assert fgt.device.config.splitlines()[0] == fe.MODEL_HEADER       # the unit's own file header
    assert o.backup.read_text() == before and o.backup_after.read_text() == want
    assert not (fgt.state / f"127.0.0.1_{fgt.port}" / "lock.json").exists()
    assert "${secret:env:DCOPS_SNMP_AUTH_KEY}" in o.diff and "fake-dcops_snmp_auth_key" not in o.diff


def test_fortios_unconfirmed_commit_is_reverted_by_the_operator_side_timer(fgt, rendered, secrets_env):
    before = fgt.device.config
    d = _fdrv(fgt)
    d.open()
    d.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-01"]))
    d.commit_config(revert_in=2)
    assert d.has_pending_commit() is True and fgt.device.config != before
    d.close()   # the pusher is gone; the timer is not
    assert _wait(lambda: fgt.device.config == before), "the timer did not restore the configuration"
    assert _wait(lambda: not d.has_pending_commit())   # the timer is done: restored, lock released
    state = fgt.state / f"127.0.0.1_{fgt.port}"
    assert not (state / "lock.json").exists()
    assert "reverted: commit not confirmed within 2 s" in (state / "history.log").read_text()


def test_fortios_500_mid_restore_puts_the_previous_configuration_back(fgt, rendered, secrets_env, tmp_path):
    before = fgt.device.config
    fgt.device.fail_next_restore_midway = True
    text = rendered["kg-fw-01"]
    report = Pusher(tmp_path / "b", commit=True, confirm_timeout=60).run(
        [_ftarget(fgt, resolve_placeholders(text), text)])
    o = report.outcomes[0]
    assert (o.state, o.failed_step, report.committed) == ("failed", "commit", [])
    assert "HTTP 500" in o.error and "the configuration before the commit was restored" in o.error
    assert fgt.device.config == before                      # byte for byte, although half had been applied
    assert fgt.device.restores == [before]


def test_fortios_candidate_that_would_reboot_the_unit_is_refused(fgt, rendered, secrets_env):
    d = _fdrv(fgt)
    d.open()
    text = resolve_placeholders(rendered["kg-fw-01"]).replace("    set reboot-upon-config-restore disable\n", "")
    with pytest.raises(Exception, match="reboot-upon-config-restore disable.*would reboot"):
        d.load_replace_candidate(config=text)
    assert fgt.device.restores == [] and not d._holds_lock()


def test_fortios_unit_that_reboots_on_restore_is_refused(tmp_path, rendered, secrets_env):
    token = "emu-" + secrets.token_hex(12)
    with Server(fe.Handler, fe.FortiGate("kg-fw-01", token, reboot_on_restore=True)) as srv:
        d = FortiOSRestDriver("127.0.0.1", "dcops-api", token, 5,
                              {"port": srv.port, "https": False, "state_dir": str(tmp_path)})
        d.open()
        with pytest.raises(Exception, match="runs with reboot-upon-config-restore enabled"):
            d.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-01"]))
        assert srv.device.restores == []


def test_fortios_change_by_another_machine_between_load_and_commit_is_refused(fgt, rendered, secrets_env, tmp_path):
    a = _fdrv(fgt)
    a.open()
    a.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-01"]))
    other = _fdrv(fgt, state=tmp_path / "other-machine")   # its own lock folder: it cannot see ours
    other.open()
    other.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-01"]).replace(
        'set hostname "kg-fw-01"', 'set hostname "other"'))
    other.commit_config()
    theirs = fgt.device.config
    with pytest.raises(Exception, match="device changed since load"):
        a.commit_config(revert_in=30)
    assert fgt.device.config == theirs and a.has_pending_commit() is False


def test_fortios_twenty_concurrent_pushes_one_wins(fgt, rendered, secrets_env, tmp_path):
    base = resolve_placeholders(rendered["kg-fw-01"])
    cands = [base.replace('set hostname "kg-fw-01"', f'set hostname "cand-{i:02d}"') for i in range(20)]

    at_load = threading.Barrier(20, timeout=120)      # every operator loads at the same moment
    finished, cond = [], threading.Condition()

    def hook(device, step, phase):
        if (step, phase) == ("load", "start"):
            at_load.wait()
        if (step, phase) == ("commit", "start"):       # the winner commits only once all the others have answered
            with cond:
                cond.wait_for(lambda: len(finished) >= 19, timeout=120)

    def push(i):
        r = Pusher(tmp_path / f"b{i}", commit=True, confirm_timeout=60, hook=hook).run([_ftarget(fgt, cands[i])])
        with cond:
            finished.append(i)
            cond.notify_all()
        return r

    with cf.ThreadPoolExecutor(20) as pool:
        reports = list(pool.map(push, range(20)))
    winners = [i for i, r in enumerate(reports) if r.ok]
    assert len(winners) == 1
    assert f'set hostname "cand-{winners[0]:02d}"' in fgt.device.config
    losers = [r.outcomes[0] for i, r in enumerate(reports) if i != winners[0]]
    assert len(losers) == 19
    assert all(o.failed_step == "load" and "device busy: locked by" in o.error for o in losers), \
        [o.error for o in losers]
    assert len(fgt.device.restores) == 1


# ---------------------------------------------------------------- PAN-OS
@pytest.fixture
def pan(tmp_path):
    keys = {"emu-" + secrets.token_hex(12): "dcops", "emu-" + secrets.token_hex(12): "admin2"}
    dev = pe.PanFirewall("kg-fw-03", keys)
    with Server(pe.Handler, dev) as srv:
        srv.key, srv.other_key = list(keys)
        srv.state = tmp_path / "state"
        yield srv


def _pdrv(srv, key=None, **extra) -> PanosXapiDriver:
    return PanosXapiDriver("127.0.0.1", "dcops", srv.key if key is None else key, 5,
                           {"port": srv.port, "https": False, "state_dir": str(srv.state), **extra})


def _ptarget(srv, text: str, rendered: str | None = None) -> Target:
    ep = Endpoint("127.0.0.1", "dcops", port=srv.port, password=srv.key,
                  extra={"https": False, "state_dir": str(srv.state)})
    return Target("kg-fw-03", "panos", text, ep, "xml", rendered)


def test_panos_backup_is_the_exported_running_config(pan):
    d = _pdrv(pan)
    d.open()
    assert pe.canonical(d.get_config()["running"]) == pan.device.running


def test_panos_wrong_key_is_refused_clearly(pan):
    with pytest.raises(PermissionError, match="API key was refused"):
        _pdrv(pan, key="emu-wrong").open()


def test_panos_push_of_the_rendered_firewall_commits_and_releases_the_lock(pan, rendered, secrets_env, tmp_path):
    text = rendered["kg-fw-03"]
    before = pan.device.running
    report = Pusher(tmp_path / "b", commit=True, confirm_timeout=60).run(
        [_ptarget(pan, resolve_placeholders(text), text)])
    o = report.outcomes[0]
    assert (o.state, o.failed_step, report.committed) == ("confirmed", None, ["kg-fw-03"]), o.error
    assert pan.device.running == pe.canonical(resolve_placeholders(text).encode())
    assert pan.device.lock_holder is None
    before_files = [n for n in pan.device.files if n.startswith("dcops-before-")]
    assert len(before_files) == 1 and pan.device.files[before_files[0]] == before   # the revert point, on the device
    assert "+" in o.diff and "<hostname>kg-fw-03</hostname>" in o.diff
    assert pe.canonical(o.backup_after.read_text()) == pan.device.running


def test_panos_lock_held_by_another_admin_means_device_busy(pan, rendered, secrets_env, tmp_path):
    other = _pdrv(pan, key=pan.other_key)
    other.open()
    other._op("<request><config-lock><add><comment>maintenance window</comment></add></config-lock></request>")
    before = pan.device.running
    report = Pusher(tmp_path / "b", commit=True, confirm_timeout=60).run(
        [_ptarget(pan, resolve_placeholders(rendered["kg-fw-03"]))])
    o = report.outcomes[0]
    assert (o.state, o.failed_step) == ("failed", "load")
    assert "device busy: locked by PAN-OS administrator admin2" in o.error
    assert pan.device.running == before and pan.device.lock_holder["admin"] == "admin2"


def test_panos_second_dcops_is_told_who_holds_the_device(pan, rendered, secrets_env):
    a = _pdrv(pan)
    a.open()
    a.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-03"]))
    b = _pdrv(pan, state_dir=str(pan.state) + "-other-machine")
    b.open()
    with pytest.raises(DeviceBusy, match=r"device busy: locked by \S+@\S+ since"):
        b.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-03"]))
    a.discard_config()
    assert pan.device.lock_holder is None and pan.device.candidate == pan.device.running


def test_panos_unconfirmed_commit_is_reverted_by_the_timer(pan, rendered, secrets_env):
    before = pan.device.running
    d = _pdrv(pan)
    d.open()
    d.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-03"]))
    d.commit_config(revert_in=2)
    assert pan.device.running != before and pan.device.lock_holder is not None
    assert _wait(lambda: pan.device.running == before), "the timer did not revert the commit"
    assert _wait(lambda: pan.device.lock_holder is None)
    assert len(pan.device.commits) == 2   # the change, then its revert


def test_panos_failed_commit_job_leaves_running_and_lock_clean(pan, rendered, secrets_env, tmp_path):
    before = pan.device.running
    pan.device.fail_next_commit = True
    report = Pusher(tmp_path / "b", commit=True, confirm_timeout=60).run(
        [_ptarget(pan, resolve_placeholders(rendered["kg-fw-03"]))])
    o = report.outcomes[0]
    assert (o.state, o.failed_step) == ("failed", "commit")
    assert "commit job 1 failed: Validation Error" in o.error
    assert pan.device.running == before and pan.device.lock_holder is None


def test_panos_partial_xml_answer_is_a_clear_error(pan):
    d = _pdrv(pan)
    d.open()
    pan.device.truncate_next = True
    with pytest.raises(RuntimeError, match="ParseError"):
        d._locks()


def test_panos_malformed_candidate_is_refused_before_anything_changes(pan, rendered, secrets_env):
    d = _pdrv(pan)
    d.open()
    text = resolve_placeholders(rendered["kg-fw-03"])
    with pytest.raises(Exception, match="not well-formed XML"):
        d.load_replace_candidate(config=text[: len(text) // 2])
    assert pan.device.files == {} and pan.device.lock_holder is None


def test_panos_rollback_after_confirm_restores_the_previous_config(pan, rendered, secrets_env):
    before = pan.device.running
    d = _pdrv(pan)
    d.open()
    d.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-03"]))
    d.commit_config(revert_in=60)
    d.confirm_commit()
    assert pan.device.running != before
    d.rollback()
    assert pan.device.running == before


def test_backup_files_are_oxidized_style(pan, tmp_path):
    d = _pdrv(pan)
    d.open()
    p = backup_mod.save(tmp_path, "kg-fw-03", d.get_config()["running"], "xml")
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z\.xml", p.name)


def test_cli_backup_of_the_real_firewalls_needs_their_api_tokens(tmp_path):
    """`dcops net backup` reaches kg-fw-01/kg-fw-03 through their APIs: without the token references
    resolved it says which one is missing, per device, and contacts nothing."""
    import json
    import os
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in ("DCOPS_FORTIOS_API_TOKEN", "DCOPS_PANOS_API_KEY")}
    proc = subprocess.run([sys.executable, "-m", "dcops.cli", "net", "backup", "--device", "kg-fw-01", "--device",
                           "kg-fw-03", "--backups", str(tmp_path), "--json"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 1
    rows = {r["device"]: r for r in json.loads(proc.stdout)}
    assert rows["kg-fw-01"]["error"] == ("secret env:DCOPS_FORTIOS_API_TOKEN: environment variable "
                                         "DCOPS_FORTIOS_API_TOKEN is not set")
    assert rows["kg-fw-03"]["error"] == ("secret env:DCOPS_PANOS_API_KEY: environment variable "
                                         "DCOPS_PANOS_API_KEY is not set")
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize("mode", ["revert", "manual"])
def test_fortios_unit_in_cfg_save_revert_or_manual_mode_is_refused(tmp_path, rendered, secrets_env, mode):
    """FortiOS's device-side revert is `set cfg-save revert` + `cfg-revert-timeout`: unsaved changes are
    reverted when the administrative session is idle, by reloading the saved configuration (a reboot of every
    HA member), unless `execute cfg save` ran — FortiGate 6.0 CLI Reference "cfg save"
    (https://docs.fortinet.com/document/fortigate/6.0.0/cli-reference/846611/cfg-save), Fortinet KB 191106
    (http://kb.fortinet.com/kb/documentLink.do?externalID=FD30912), FortiGate 7.0.6 Administration Guide
    "Using configuration save mode"
    (https://docs.fortinet.com/document/fortigate/7.0.6/administration-guide/228450/using-configuration-save-mode).
    It is defined for CLI/GUI sessions; no REST call for `execute cfg save` is documented and a restore writes
    the saved configuration itself, so what a REST restore does in that mode is unknown: the driver refuses
    the unit, and a candidate that would switch it on, and changes nothing."""
    token = "emu-" + secrets.token_hex(12)
    with Server(fe.Handler, fe.FortiGate("kg-fw-01", token, cfg_save=mode)) as srv:
        d = FortiOSRestDriver("127.0.0.1", "dcops-api", token, 5,
                              {"port": srv.port, "https": False, "state_dir": str(tmp_path)})
        d.open()
        with pytest.raises(Exception, match=rf"the device runs `set cfg-save {mode}`: unsaved changes are then "
                                            r"reverted by the unit .* set cfg-save automatic before pushing"):
            d.load_replace_candidate(config=resolve_placeholders(rendered["kg-fw-01"]))
        assert srv.device.restores == [] and not d._holds_lock()
    token = "emu-" + secrets.token_hex(12)
    with Server(fe.Handler, fe.FortiGate("kg-fw-01", token)) as srv:
        d = FortiOSRestDriver("127.0.0.1", "dcops-api", token, 5,
                              {"port": srv.port, "https": False, "state_dir": str(tmp_path / "2")})
        d.open()
        cand = resolve_placeholders(rendered["kg-fw-01"]).replace(
            "config system global\n", f"config system global\n    set cfg-save {mode}\n", 1)
        with pytest.raises(Exception, match=rf"the candidate sets `set cfg-save {mode}`"):
            d.load_replace_candidate(config=cand)
        assert srv.device.restores == [] and not d._holds_lock()
