"""Bacula configured from the inventory, run for real: Debian's bacula-dir/sd/fd 9.6 check the generated
configuration (-t), then a director, a storage daemon with the disk-based virtual autochanger and a file daemon
run on 127.0.0.1: the library is labelled from barcodes, a full backup runs, the catalogue shows it, and a
restore gives back every byte."""
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dcops.backup.catalogue import last_backups, volumes
from dcops.backup.config import Deployment, PolicyNotExpressible, clients_of, render, schedule_runs
from dcops.backup.lab import BaculaLab, available, barcode
from dcops.backup.restore import expected_files, restore_verified, verify
from dcops.model import load_inventory

needs_bacula = pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


def test_schedules_bacula_can_run_and_those_it_cannot():
    assert schedule_runs(7, True) == ["Level=Full sun at 23:05", "Level=Incremental mon-sat at 23:05"]
    assert schedule_runs(30, False) == ["Level=Full 1st sun at 23:05"]
    fortnight = schedule_runs(14, True)
    assert fortnight[0].startswith("Level=Full w00,w02,") and fortnight[0].endswith("w52 sun at 23:05")
    assert fortnight[1].startswith("Level=Incremental w01,w03,") and fortnight[2] == "Level=Incremental mon-sat at 23:05"
    with pytest.raises(PolicyNotExpressible, match="a full every 10 days has no Bacula schedule"):
        schedule_runs(10, True)


def test_the_calendar_behind_the_run_lines_and_the_longest_gap_between_fulls():
    from dcops.model.bacula import bacula_week, last_due, longest_full_gap_days, schedule
    # Bacula's week of the year (btime.c tm_woy): ISO weeks, except days before week 1 are w00 and the year's
    # last days stay in the old year
    assert [bacula_week(dt.date(*d)) for d in ((2026, 1, 1), (2027, 1, 3), (2027, 1, 4), (2026, 12, 31),
                                               (2026, 6, 15))] == [1, 0, 1, 53, 25]
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(11 * 366)]
    gaps = {}
    for every in (1, 7, 14, 30):
        fulls = [d for d in days if any(r.matches(d) for r in schedule(every, False) if r.level == "Full")]
        gaps[every] = max((b - a).days for a, b in zip(fulls, fulls[1:]))
        assert all(any(r.matches(d) for r in schedule(every, True)) for d in days)  # a job every night
        assert all(sum(r.matches(d) for r in schedule(every, True)) == 1 for d in days)  # never two
    assert gaps == {n: longest_full_gap_days(n) for n in gaps} == {1: 1, 7: 7, 14: 14, 30: 35}
    tz = dt.timezone(dt.timedelta(hours=7))
    monthly = schedule(30, False)  # the 1st Sunday of the month
    assert last_due(monthly, dt.datetime(2026, 12, 1, 9, 0, tzinfo=tz)) == dt.datetime(2026, 11, 1, 23, 5, tzinfo=tz)
    assert last_due(monthly, dt.datetime(2026, 11, 1, 23, 5, tzinfo=tz)) == dt.datetime(2026, 11, 1, 23, 5, tzinfo=tz)
    assert last_due(schedule(14, True), dt.datetime(2026, 12, 1, 23, 4, tzinfo=tz)) == dt.datetime(
        2026, 11, 30, 23, 5, tzinfo=tz)


def test_every_tape_vm_is_a_client_with_a_job_and_snapshot_vms_are_not(inv):
    clients = clients_of(inv)
    tape_vms = [v.name for v in inv.vms if v.backup_policy and inv.backup_policy(v.backup_policy).target == "tape"]
    assert sorted(c.name for c in clients) == sorted(tape_vms) and clients
    conf = render(inv, Deployment(Path("/var/lib/bacula")), clients)["bacula-dir.conf"]
    for c in clients:
        assert f"Job {{\n  Name = {c.name}\n  JobDefs = {c.policy.name}\n" in conf
    assert "Volume Retention = 30 days" in conf and "Volume Retention = 60 days" in conf
    assert "snap-daily-7d" not in conf


def test_lto_barcodes():
    assert barcode("KG", 1, "LTO-8") == "KG0001L8" and barcode("DR", 10, "LTO-9") == "DR0010L9"


@needs_bacula
def test_generated_configuration_passes_each_daemons_own_check(inv, tmp_path):
    lab = BaculaLab(inv, {"portal-db-01": [str(tmp_path)]}, workdir=tmp_path / "b")
    lab.write()
    lab.check()  # raises with the daemon's own message on any error


@needs_bacula
def test_tls_between_every_daemon_passes_their_own_check(inv, tmp_path):
    """With TLS each daemon loads its CA, certificate and key at -t: a missing key is Bacula's own error."""
    from dcops.backup.config import TlsFiles
    from dcops.backup.lab import BaculaError
    from tests.drills.pki import Ca
    ca = Ca(tmp_path / "pki")
    ca.issue("bak", "kg-bak-dir")
    tls = TlsFiles(ca.folder / "ca.crt", ca.folder / "bak.crt", ca.folder / "bak.key")
    lab = BaculaLab(inv, {"portal-db-01": [str(tmp_path)]}, workdir=tmp_path / "b", tls=tls)
    lab.write()
    for name in ("bacula-dir.conf", "bacula-sd.conf", "bacula-fd.conf"):
        text = (lab.conf / name).read_text()
        assert text.count("TLS Require = yes") == text.count("TLS Enable = yes") == text.count(f'TLS Key = "{tls.key}"')
    # 2 libraries + the catalogue's disk storage, the VM's client + the director's own client
    assert (lab.conf / "bacula-dir.conf").read_text().count("TLS Enable = yes") == 5
    assert (lab.conf / "bacula-sd.conf").read_text().count("TLS Enable = yes") == 2  # to the director, the clients
    lab.check()
    tls.key.unlink()
    with pytest.raises(BaculaError, match=r"bacula-sd -t: .*TLS"):
        lab.check()


@pytest.mark.slow
@needs_bacula
def test_full_backup_to_the_virtual_library_and_a_byte_exact_restore(inv, tmp_path):
    data = tmp_path / "portal-db"
    data.mkdir()
    for i in range(4):
        (data / f"table{i}.ibd").write_bytes(os.urandom(150_000 + i))
    want = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in data.iterdir()}
    with BaculaLab(inv, {"portal-db-01": [str(data)]}) as lab:
        labelled = lab.label_library()
        t = inv.storage.tape
        assert all(f"Volume \"{barcode(t.barcode_prefix, s, t.media_type)}\"" in labelled
                   for s in range(1, t.slots + 1)), labelled[-2000:]
        out = lab.bconsole("run job=portal-db-01 level=Full yes\nwait\nmessages")
        assert "Termination:            Backup OK" in out, out[-3000:]
        with lab.catalogue() as con:
            (last,) = last_backups(con, {"portal-db-01": 24 * 3600})
            vols = volumes(con)
        assert (last.job, last.level, last.files) == ("portal-db-01", "full", 5)  # 4 files and the folder
        assert last.bytes == sum(150_000 + i for i in range(4)) and last.met is True
        assert [v["volume"] for v in vols if v["bytes"] > 1000] == ["KG0001L8"]
        assert {v["pool"] for v in vols if v["bytes"] > 1000} == {"tape-daily-30d-full"}
        # a day and an hour later with no new backup, the 24 h RPO is missed — from the catalogue alone
        with lab.catalogue() as con:
            later = dt.datetime.fromisoformat(last.ended) + dt.timedelta(hours=25)
            (stale,) = last_backups(con, {"portal-db-01": 24 * 3600}, now=later)
        assert stale.met is False and stale.age_s == pytest.approx(25 * 3600)
        status = subprocess.run([sys.executable, "-m", "dcops.cli", "backup", "status", "--catalogue",
                                 str(lab.workdir / "dir" / "bacula.db"), "--json"], capture_output=True, text=True,
                                timeout=120)
        report = json.loads(status.stdout)
        assert [j["job"] for j in report["jobs"]] == ["portal-db-01"] and report["jobs"][0]["met"] is True
        # every other VM on a tape policy has never been backed up here: that is a failure, not a footnote
        assert status.returncode == 1 and "qlvb-db-01" in report["never_backed_up"]
        out = lab.bconsole(f"restore client=portal-db-01-fd where={lab.workdir}/restore select current all done yes"
                           "\nwait\nmessages")
        assert "Termination:            Restore OK" in out, out[-3000:]
        restored = lab.workdir / "restore" / str(data).lstrip("/")
        got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in restored.iterdir()}
        assert got == want


@pytest.mark.slow
@needs_bacula
def test_restore_is_verified_against_the_catalogue_and_a_corrupted_volume_fails_with_bacula_s_words(inv, tmp_path):
    data = tmp_path / "mail"
    data.mkdir()
    for i in range(3):
        (data / f"mbox{i}").write_bytes(os.urandom(90_000 + i))
    with BaculaLab(inv, {"portal-db-01": [str(data)]}) as lab:
        lab.label_library()
        assert "Backup OK" in lab.bconsole("run job=portal-db-01 level=Full yes\nwait\nmessages")
        good = restore_verified(lab, "portal-db-01-fd", tmp_path / "staging-1")
        assert good.ok and good.files_checked == 3, good.reason
        # the restored copy is changed after the fact: the catalogue's digests catch it
        victim = tmp_path / "staging-1" / str(data).lstrip("/") / "mbox1"
        victim.write_bytes(b"tampered")
        (victim.parent / "mbox2").unlink()
        with lab.catalogue() as con:
            again = verify(good, expected_files(con, "portal-db-01-fd"))
        assert not again.ok and again.mismatched == [str(data / "mbox1")] and again.missing == [str(data / "mbox2")]
        assert again.reason.startswith("restored data differs from the catalogue: 1 file(s)")
        # the cartridge goes bad: flipped bytes in the middle of the volume
        slot = lab.workdir / "tape" / "slot1"
        vol = bytearray(slot.read_bytes())
        for k in range(len(vol) // 2, len(vol) // 2 + 64):
            vol[k] ^= 0xFF
        slot.write_bytes(bytes(vol))
        bad = restore_verified(lab, "portal-db-01-fd", tmp_path / "staging-2")
        assert not bad.ok and "Block checksum mismatch" in bad.reason, bad.reason


def test_render_with_tls_dir_puts_tls_on_every_connection(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dcops.backup.cli import app
    for k in ("DIRECTOR", "CONSOLE", "SD", "FD"):
        monkeypatch.setenv(f"DCOPS_BACULA_{k}_PASSWORD", f"pw-{k.lower()}-0123456789abcdef")
    r = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "etc"), "--address", "10.10.0.50",
                                 "--tls-dir", "/etc/bacula/tls"])
    assert r.exit_code == 0, r.output
    fd = (tmp_path / "etc" / "bacula-fd.conf").read_text()
    assert fd.count('TLS CA Certificate File = "/etc/bacula/tls/ca.crt"') == 2  # to the director, to the storage
    assert fd.count('TLS Key = "/etc/bacula/tls/server.key"') == fd.count("TLS Require = yes") == 2
    d = (tmp_path / "etc" / "bacula-dir.conf").read_text()
    assert d.count("TLS Require = yes") == d.count("Client {") + d.count("Storage {")
