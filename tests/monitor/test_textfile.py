"""The monitor's textfile collector: `dcops backup metrics` output becomes a device's readings, the alert rules
fire on it (backup_job_failed) and clear, and a file that is not an exposition is a malformed device."""
import pytest

from dcops.backup.metrics import FAMILIES, Sample as BackupSample, exposition
from dcops.model.contracts import TEXTFILE
from dcops.monitor import metrics
from dcops.monitor.alerts import AlertEngine, load_rules
from dcops.monitor.store import Store
from dcops.monitor.textfile import ExpositionError, collect, parse


def test_textfile_vocabulary_is_what_backup_metrics_writes():
    assert set(TEXTFILE) == {f"backup_{k}" for k in FAMILIES}


def _write(folder, ok: int):
    lab = {"job": "portal-db-01", "client": "portal-db-01-fd", "policy": "tape-daily-30d"}
    (folder / "kg-bak-dir.prom").write_text(exposition([BackupSample("last_job_ok", lab, ok),
                                                        BackupSample("rpo_seconds", lab, 86400)]))


def test_backup_job_failed_fires_from_the_textfile_and_clears(tmp_path):
    store = Store(tmp_path / "noc.db")
    engine = AlertEngine(load_rules(), store, clock=lambda: 1000.0)
    _write(tmp_path, 0)
    polls = collect(tmp_path, now=1000.0)
    assert [(p.device, p.profile, p.state) for p in polls] == [("kg-bak-dir", "textfile", "ok")]
    assert {(s.metric, s.value) for s in polls[0].samples} == {("backup_last_job_ok", 0.0),
                                                               ("backup_rpo_seconds", 86400.0)}
    store.write_polls(polls)
    fired = [t for t in engine.evaluate(polls) if t.rule == "backup_job_failed"]
    assert [(t.kind, t.device, t.labels["job"]) for t in fired] == [("firing", "kg-bak-dir", "portal-db-01")]
    assert fired[0].summary_vi == "Sao lưu portal-db-01 thất bại ở lần chạy gần nhất (chính sách tape-daily-30d)"
    text = metrics.render(store)
    assert 'dcops_backup_last_job_ok{' in text and 'job="portal-db-01"' in text
    _write(tmp_path, 1)
    cleared = [t for t in engine.evaluate(collect(tmp_path, now=1001.0)) if t.rule == "backup_job_failed"]
    assert [t.kind for t in cleared] == ["resolved"]


def test_a_file_that_is_not_an_exposition_is_a_malformed_device(tmp_path):
    (tmp_path / "broken.prom").write_text("# HELP x\nx{a=\"1\" 5\n")
    (p,) = collect(tmp_path, now=1.0)
    assert (p.device, p.state, p.samples) == ("broken", "malformed", [])
    assert p.error.endswith('broken.prom:2: not a sample line: \'x{a="1" 5\'')
    with pytest.raises(ExpositionError, match=r"<text>:1: bad value 'abc'"):
        parse("x abc")
