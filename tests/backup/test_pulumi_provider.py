"""The Pulumi provider for Bacula's director resources against a real bacula-dir 9.6 (Debian's) on 127.0.0.1.

One director for the module, started with only its core in bacula-dir.conf and an empty conf.d (the
layout a stack that declares the backup system manages). The provider creates the resources the inventory
implies for one VM, and bconsole's `show` lists them; an update changes what the director runs; a delete
removes it; a fragment Bacula refuses (a pool on a storage that does not exist, a client a job still names)
raises with Bacula's own words, leaves the previous files byte for byte and the director running them.
`check` and `diff` need no director."""
from __future__ import annotations

import pytest

from dcops.backup.config import site_of
from dcops.backup.lab import BaculaLab, available
from dcops.cloud.bacula_provider import BaculaProvider, BaculaRefused, DirectorAccess, changed, check_props
from dcops.model import load_inventory
from dcops.model.bacula import fragments, render_fragment

needs_bacula = pytest.mark.skipif(not available(), reason="Debian's bacula-director/sd/fd/console not installed")


def _props(f) -> dict:
    return {"kind": f.kind, "name": f.name, "directives": dict(f.directives), "comment": f.comment}


@pytest.fixture(scope="module")
def inv():
    return load_inventory()


@pytest.fixture(scope="module")
def director(inv, tmp_path_factory):
    data = tmp_path_factory.mktemp("portal-db")
    lab = BaculaLab(inv, {"portal-db-01": [str(data)]}, workdir=tmp_path_factory.mktemp("bacula"), conf_d=True)
    lab.start(only=("dir",))  # test, reload and show need no storage or file daemon
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def provider(director):
    c = director.conf
    return BaculaProvider(DirectorAccess(str(director.d.conf_d), str(c / "bacula-dir.conf"), str(c / "bconsole.conf")))


@pytest.fixture(scope="module")
def declared(inv, director, provider):
    """Every resource the inventory implies for portal-db-01, created in declaration order."""
    frags = fragments(inv, director.clients, site_of(inv, director.d))
    ids = [provider.create(_props(f)).id for f in frags]
    return frags, ids


def _show(lab, what: str) -> str:
    return lab.bconsole(f"show {what}").split(f"show {what}", 1)[1]


@pytest.mark.slow
@needs_bacula
def test_create_writes_each_fragment_and_the_running_director_shows_the_job(inv, director, declared):
    frags, ids = declared
    assert ids == [f"{f.kind}/{f.name}" for f in frags]
    files = sorted(p.name for p in director.d.conf_d.glob("*.conf"))
    assert files == sorted(f.file for f in frags)
    job = next(f for f in frags if (f.kind, f.name) == ("Job", "portal-db-01"))
    assert (director.d.conf_d / job.file).read_text() == render_fragment("Job", "portal-db-01", job.directives)
    assert (director.d.conf_d / "client-portal-db-01-fd.conf").stat().st_mode & 0o777 == 0o600  # a password
    out = _show(director, "job=portal-db-01")
    assert "Job: name=portal-db-01 JobType=66 level=Incremental" in out, out
    assert "--> Client: Name=portal-db-01-fd" in out and "--> Pool: name=tape-daily-30d-full" in out, out
    # what the job takes from its JobDefs (9.6 has no `show jobdefs`): the policy's schedule and bootstrap
    assert "--> Schedule: Name=tape-daily-30d Enabled=1" in out and "--> WriteBootstrap=" in out, out
    # the same resource twice is another stack's (or a hand-made) file: refused, the file untouched
    before = (director.d.conf_d / job.file).read_bytes()
    with pytest.raises(BaculaRefused, match="already has Job portal-db-01"):
        BaculaProvider(DirectorAccess(str(director.d.conf_d), str(director.conf / "bacula-dir.conf"),
                                      str(director.conf / "bconsole.conf"))).create(_props(job))
    assert (director.d.conf_d / job.file).read_bytes() == before


@pytest.mark.slow
@needs_bacula
def test_the_director_runs_the_schedule_on_the_days_the_model_says(inv, director, declared):
    """Bacula's own scheduler (`status dir`: the next run of each Run line) against `Run.matches`, the calendar
    the missed-schedule metric walks: same days, same levels (the fortnight's even weeks included)."""
    import datetime as dt
    import re

    from dcops.model.bacula import schedule
    policy = inv.backup_policy(inv.vm("portal-db-01").backup_policy)
    out = director.bconsole("status dir days=45")
    now = dt.datetime.now()
    got = set()
    for m in re.finditer(r"^(Full|Incremental|Differential)\s+Backup\s+\d+\s+(\d\d-\w{3}-\d\d \d\d:\d\d)\s+"
                         r"portal-db-01\s", out, re.M):
        got.add((m.group(1), dt.datetime.strptime(m.group(2), "%d-%b-%y %H:%M")))
    want = set()
    for run in schedule(policy.full_every_days, policy.incremental_daily):
        h, mi = (int(x) for x in run.at.split(":"))
        want.add(next((run.level, t) for d in range(60)
                      for t in [dt.datetime.combine(now.date() + dt.timedelta(days=d), dt.time(h, mi))]
                      if t > now and run.matches(t.date())))
    assert got == want, out


@pytest.mark.slow
@needs_bacula
def test_update_changes_what_the_director_runs(director, provider, declared):
    frags, _ = declared
    pool = next(f for f in frags if (f.kind, f.name) == ("Pool", "tape-daily-30d-full"))
    old = _props(pool)
    new = {**old, "directives": {**old["directives"], "Maximum Volume Bytes": 24_000_000}}
    assert provider.diff("Pool/tape-daily-30d-full", old, new).changes is True
    assert changed(old, new) == ["directives.Maximum Volume Bytes"]
    assert f"MaxVolBytes={old['directives']['Maximum Volume Bytes']}" in _show(director, "pool=tape-daily-30d-full")
    provider.update("Pool/tape-daily-30d-full", old, new)
    assert "MaxVolBytes=24000000" in _show(director, "pool=tape-daily-30d-full")
    assert "Maximum Volume Bytes = 24000000\n" in (director.d.conf_d / pool.file).read_text()


@pytest.mark.slow
@needs_bacula
def test_a_fragment_bacula_refuses_is_rolled_back_with_bacula_s_words_and_the_director_keeps_running(
        director, provider, declared):
    conf_d = director.d.conf_d
    before = {p.name: p.read_bytes() for p in conf_d.glob("*.conf")}
    bad = {"kind": "Pool", "name": "tape-orphan", "comment": "",
           "directives": {"Pool Type": "Backup", "Storage": "tape-99"}}
    with pytest.raises(BaculaRefused) as e:
        provider.create(bad)
    assert 'Could not find config Resource "tape-99" referenced on line' in str(e.value)
    assert str(e.value).startswith("bacula-dir -t refused the configuration: ")
    # an update that breaks a reference: the old fragment is back, byte for byte
    frags, _ = declared
    job = _props(next(f for f in frags if (f.kind, f.name) == ("Job", "portal-db-01")))
    broken = {**job, "directives": {**job["directives"], "FileSet": "no-such-data"}}
    with pytest.raises(BaculaRefused, match='Could not find config Resource "no-such-data"'):
        provider.update("Job/portal-db-01", job, broken)
    # deleting a client its job still names: Bacula refuses, the client stays
    client = _props(next(f for f in frags if f.kind == "Client"))
    with pytest.raises(BaculaRefused, match='Could not find config Resource "portal-db-01-fd"'):
        provider.delete("Client/portal-db-01-fd", client)
    assert {p.name: p.read_bytes() for p in conf_d.glob("*.conf")} == before
    assert director.procs["dir"].poll() is None  # still running
    assert "--> FileSet: name=portal-db-01-data" in _show(director, "job=portal-db-01")
    assert "not found" not in _show(director, "client=portal-db-01-fd")


@pytest.mark.slow
@needs_bacula
def test_delete_removes_the_fragment_and_the_director_forgets_it(director, provider, declared):
    frags, _ = declared
    restore = next(f for f in frags if (f.kind, f.name) == ("Job", "restore"))
    assert "not found" not in _show(director, "job=restore")
    provider.delete("Job/restore", _props(restore))
    assert not (director.d.conf_d / restore.file).exists()
    assert "job resource restore not found." in _show(director, "job=restore")
    provider.delete("Job/restore", _props(restore))  # gone already: nothing to do


@pytest.mark.slow
@needs_bacula
def test_a_running_directors_own_identical_fragment_is_adopted_and_any_other_refused(director, provider, declared,
                                                                                     monkeypatch):
    """The first `pulumi up` against a director that already runs the declared resources (dynamic-provider resources
    cannot be `pulumi import`ed, pulumi/pulumi#16175): without DCOPS_BACULA_ADOPT=1 the file is refused; with it a
    file exactly as declared is adopted — same bytes, the director tested, reloaded and still showing it — and a
    file that differs is refused, left as it was."""
    frags, _ = declared
    fs = next(f for f in frags if (f.kind, f.name) == ("FileSet", "portal-db-01-data"))
    path = director.d.conf_d / fs.file
    before, st = path.read_bytes(), path.stat()
    with pytest.raises(BaculaRefused, match=r"already has FileSet portal-db-01-data \(another stack's or a hand-made "
                                            r"file: remove it, or adopt a running director's files once with "
                                            r"DCOPS_BACULA_ADOPT=1"):
        provider.create(_props(fs))
    monkeypatch.setenv("DCOPS_BACULA_ADOPT", "1")
    assert provider.create(_props(fs)).id == "FileSet/portal-db-01-data"
    assert path.read_bytes() == before and "not found" not in _show(director, "fileset=portal-db-01-data")
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)  # not even rewritten
    # the engine hands the directives in its own order (a protobuf Struct): the same directives reordered adopt
    client = next(f for f in frags if f.kind == "Client")
    client_before = (director.d.conf_d / client.file).read_bytes()
    shuffled = {**_props(client), "directives": dict(reversed(list(client.directives.items())))}
    assert render_fragment("Client", client.name, shuffled["directives"]).encode() != client_before
    assert provider.create(shuffled).id == f"Client/{client.name}"
    assert (director.d.conf_d / client.file).read_bytes() == client_before
    hand = before.replace(b"}", b"  Ignore FileSet Changes = yes\n}", 1)
    assert hand != before
    path.write_bytes(hand)
    try:
        with pytest.raises(BaculaRefused) as e:
            provider.create(_props(fs))
        assert str(e.value) == (f"{path} exists and is not the declared FileSet portal-db-01-data: make it what "
                                "`dcops cloud bacula-files` writes (or remove it) and run again; only a file with "
                                "the declared directives is adopted")
        assert path.read_bytes() == hand
    finally:
        path.write_bytes(before)


def test_check_refuses_what_bacula_could_not_parse_before_any_file_is_written():
    ok = {"kind": "Pool", "name": "p1", "directives": {"Pool Type": "Backup"}}
    assert check_props(ok) == []
    assert check_props({**ok, "kind": "Console"})[0][0] == "kind"
    assert check_props({**ok, "name": "two words"}) == [
        ("name", "'two words' is not a Bacula resource name (letters, digits, ':', '.', '_', '-'; at most 127)")]
    assert check_props({**ok, "directives": {"Pool Type": "Backup", "Label\nFormat": "x"}}) == [
        ("directives.Label\nFormat", "'Label\\nFormat' is not a directive (letters and spaces; Name is the "
                                      "resource's own name)")]
    assert check_props({**ok, "directives": {"Pool Type": "Backup\n}\nDirector {"}}) == [
        ("directives.Pool Type", "a value is one line of text or a number, not 'Backup\\n}\\nDirector {'")]
    assert check_props({"kind": "Client", "name": "c-fd", "directives": {"Address": "10.0.0.1"}}) == [
        ("directives", "a Client needs Password")]
    assert check_props({"kind": "Job", "name": "j", "directives": {"Client": "c-fd"}}) == [
        ("directives", "a Job needs a Type or the JobDefs it takes its Type from")]


def test_diff_replaces_on_a_new_name_and_updates_anything_else():
    p = BaculaProvider(DirectorAccess("/nonexistent", "/nonexistent", "/nonexistent"))
    old = {"kind": "Client", "name": "a-fd", "comment": "", "directives": {"Address": "10.0.0.1", "Password": "x"},
           "__provider": "old"}
    moved = {**old, "directives": {"Address": "10.0.0.2", "Password": "x"}, "__provider": "new"}
    r = p.diff("Client/a-fd", old, moved)
    assert (r.changes, r.replaces, r.delete_before_replace) == (True, [], False)
    renamed = {**old, "name": "b-fd"}
    r = p.diff("Client/a-fd", old, renamed)
    assert (r.changes, r.replaces) == (True, ["name"])
    r = p.diff("Client/a-fd", old, {**old, "__provider": "new"})  # the provider's own code is not a change
    assert (r.changes, r.replaces) == (False, [])


def test_with_a_conf_d_the_director_file_is_its_core_and_an_include(inv, tmp_path):
    from dcops.backup.config import Deployment, clients_of, render

    split = render(inv, Deployment(tmp_path, conf_d=tmp_path / "conf.d"), clients_of(inv))["bacula-dir.conf"]
    whole = render(inv, Deployment(tmp_path), clients_of(inv))["bacula-dir.conf"]
    include = f"@|\"sh -c 'for f in {tmp_path}/conf.d/*.conf ; do [ -e $f ] && echo @$f ; done ; true'\"\n"
    assert split.count(include) == 1 and include not in whole
    for conf in (split, whole):  # the director's own complete job is in both
        assert "Job {\n  Name = BackupCatalog\n  Type = Backup\n  Level = Full\n  Client = kg-bak-dir-fd\n" in conf
    assert "Job {\n  Name = portal-db-01\n" in whole and "portal-db-01" not in split
    assert "Storage {\n  Name = tape-01\n" in whole and "tape-01" not in split


def test_render_cli_writes_the_core_for_a_conf_d_and_refuses_a_relative_one(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dcops.cli import app

    for k in ("DIRECTOR", "CONSOLE", "SD", "FD"):
        monkeypatch.setenv(f"DCOPS_BACULA_{k}_PASSWORD", f"pw-{k.lower()}")
    args = ["backup", "render", "--out", str(tmp_path / "etc"), "--address", "10.10.0.42"]
    bad = CliRunner().invoke(app, [*args, "--conf-d", "conf.d"])
    assert bad.exit_code == 2 and "--conf-d conf.d: an absolute path on the backup server" in bad.stderr
    assert not (tmp_path / "etc").exists()
    ok = CliRunner().invoke(app, [*args, "--conf-d", "/etc/bacula/conf.d"])
    assert ok.exit_code == 0, ok.output
    conf = (tmp_path / "etc" / "bacula-dir.conf").read_text()
    assert "@|\"sh -c 'for f in /etc/bacula/conf.d/*.conf ;" in conf and "Name = portal-db-01" not in conf


@pytest.mark.slow
@needs_bacula
def test_pulumi_s_own_dynamic_provider_host_runs_the_serialised_provider(director, declared):
    """What `pulumi up` starts (`python -m pulumi.dynamic`, a gRPC server) deserialises the provider from the
    resource's __provider and calls it: Create, Diff and Delete through that process, not in this one."""
    import os
    import subprocess
    import sys

    import grpc
    from google.protobuf import struct_pb2
    from pulumi.dynamic.dynamic import serialize_provider
    from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

    from dcops import PROJECT_ROOT
    from dcops.cloud.bacula_provider import _pickler_restored

    c = director.conf
    with _pickler_restored():
        blob = serialize_provider(BaculaProvider(DirectorAccess(str(director.d.conf_d), str(c / "bacula-dir.conf"),
                                                                str(c / "bconsole.conf"))))
    host = subprocess.Popen([sys.executable, "-m", "pulumi.dynamic"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, start_new_session=True)
    try:
        port = int(host.stdout.readline())
        stub = provider_pb2_grpc.ResourceProviderStub(grpc.insecure_channel(f"127.0.0.1:{port}"))

        def struct(props):
            s = struct_pb2.Struct()
            s.update({**props, "__provider": blob})
            return s

        urn = "urn:pulumi:prod::dcops-cloud::pulumi-python:dynamic/bacula:Schedule::weekly-extra"
        props = {"kind": "Schedule", "name": "weekly-extra", "comment": "",
                 "directives": {"Run": ["Level=Full sat at 02:00"]}}
        made = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=struct(props)), timeout=60)
        assert made.id == "Schedule/weekly-extra"
        assert "Schedule: Name=weekly-extra Enabled=1" in _show(director, "schedule=weekly-extra")
        moved = {**props, "directives": {"Run": ["Level=Full sun at 03:00"]}}
        d = stub.Diff(provider_pb2.DiffRequest(id=made.id, urn=urn, olds=struct(props), news=struct(moved)))
        assert (d.changes, list(d.replaces)) == (provider_pb2.DiffResponse.DIFF_SOME, [])
        d = stub.Diff(provider_pb2.DiffRequest(id=made.id, urn=urn, olds=struct(props),
                                               news=struct({**props, "name": "weekly-other"})))
        assert list(d.replaces) == ["name"]
        stub.Delete(provider_pb2.DeleteRequest(id=made.id, urn=urn, properties=struct(props)), timeout=60)
        assert "schedule resource weekly-extra not found." in _show(director, "schedule=weekly-extra")
    finally:
        os.killpg(host.pid, 15)
        host.wait(10)


def test_refresh_sees_a_fragment_removed_or_edited_on_the_director(tmp_path):
    p = BaculaProvider(DirectorAccess(str(tmp_path), "/nonexistent", "/nonexistent"))
    props = {"kind": "Pool", "name": "p1", "comment": "", "directives": {"Pool Type": "Backup"}}
    assert p.read("Pool/p1", props).id == ""  # no file: gone, the next `pulumi up` creates it
    (tmp_path / "pool-p1.conf").write_text(render_fragment("Pool", "p1", props["directives"]))
    state = p.read("Pool/p1", props)
    assert state.id == "Pool/p1" and p.diff("Pool/p1", state.outs, props).changes is False
    # the engine hands the directives in its own order: a file that differs from the declaration in order only
    two = {**props, "directives": {"Pool Type": "Backup", "Recycle": "no"}}
    (tmp_path / "pool-p1.conf").write_text(render_fragment("Pool", "p1", {"Recycle": "no", "Pool Type": "Backup"}))
    assert p.diff("Pool/p1", p.read("Pool/p1", two).outs, two).changes is False
    (tmp_path / "pool-p1.conf").write_text("Pool {\n  Name = p1\n  Pool Type = Backup\n  Recycle = no\n}\n")
    edited = p.read("Pool/p1", props).outs
    r = p.diff("Pool/p1", edited, props)
    assert (r.changes, r.replaces) == (True, [])  # the declared file is written again
