"""The bacula_fd role on a namespace host over SSH (check mode changes nothing, idempotent), then the lab's real
director talks to that file daemon over TLS, and a director whose certificate the site CA did not sign is refused."""
import pytest

from dcops.backup.config import TlsFiles
from dcops.backup.lab import BaculaLab, available
from dcops.drills.inventory import dynamic, static_yaml
from dcops.drills.lab import DrillLab
from dcops.drills.runner import run_playbook

from .pki import Ca

pytestmark = [pytest.mark.lab, pytest.mark.skipif(not available(), reason="needs Bacula (bacula-dir, -fd, bconsole)")]

VM = "portal-db-01"  # on a tape policy: in backup_target_tape
ROOT = "/var/lib/dcops/root"
FD_TASKS = {"Create the folders", "TLS certificates (the site CA and this daemon's own)", "TLS private key",
            "Configure the file daemon (director, TLS, listening address)"}


def _changed(run):
    return {s.task for s in run.steps if s.changed}


def test_bacula_fd_role_then_director_over_tls(inv, lab_prefix, tmp_path, monkeypatch):
    with DrillLab(lab_prefix) as dl:
        t = dl.target(VM, "fd1", bacula_fd_root=ROOT, bacula_fd_manage_service=False)
        dl.extra_vars[VM]["bacula_fd_address"] = t.mgmt_ip
        site, rogue = Ca(tmp_path / "pki"), Ca(tmp_path / "rogue", "not the site CA")
        # Bacula 9.6 matches the address the director dials against the certificate's DNS names and CN, never
        # its IP addresses: a file daemon reached by address carries that address as a DNS name too
        site.issue(VM, VM, dns=(t.mgmt_ip,), ips=(t.mgmt_ip,))
        site.issue("dir", "kg-bak-dir")
        rogue.issue("dir", "kg-bak-dir")
        bl = BaculaLab(inv, {VM: ["/var/lib/dcops/data"]}, workdir=tmp_path / "dir", netns=dl.control_ns,
                       daemons=("dir",), remote_fds={VM: (t.mgmt_ip, 9102)}, fd_connect_timeout="5 seconds",
                       tls=TlsFiles(site.folder / "ca.crt", site.folder / "dir.crt", site.folder / "dir.key"))
        monkeypatch.setenv("DCOPS_BACULA_FD_PASSWORD", bl.d.passwords["fd"])
        monkeypatch.setenv("DCOPS_BACULA_TLS_DIR", str(site.folder))
        conf = dl.host_dir(VM) / "root/etc/bacula/bacula-fd.conf"

        def play(check):
            return run_playbook("backup-clients.yml", inventory=static_yaml(dynamic(inv, dl.overlay(), lab=True)),
                                extravars={"bacula_fd_hosts": VM}, check=check, control_ns=dl.control_ns)

        first_check = play(True)
        assert first_check.ok, first_check.failed_steps
        assert _changed(first_check) == FD_TASKS and not conf.parent.exists()
        applied = play(False)
        assert applied.ok, applied.failed_steps
        assert _changed(applied) == FD_TASKS
        text = conf.read_text()
        assert f"FDAddress = {t.mgmt_ip}" in text and "Name = kg-bak-dir" in text and "TLS Require = yes" in text
        assert 'TLS Allowed CN = "kg-bak-dir"' in text
        assert f'Password = "{bl.d.passwords["fd"]}"' in text and oct(conf.stat().st_mode & 0o777) == "0o600"
        again = play(False)
        assert again.ok and _changed(again) == set() and again.stats["changed"] == {}

        # the daemon as its service would run it: the role's configuration, in the host's own namespace
        pid = dl.lab.spawn("fd1", ["bacula-fd", "-f", "-c", f"{ROOT}/etc/bacula/bacula-fd.conf"], what="bacula-fd",
                           binds={str(dl.host_dir(VM)): "/var/lib/dcops"})
        dl.lab.wait_listening("fd1", 9102, pid=pid)
        dl.services["bacula"] = bl
        bl.start()
        out = bl.bconsole(f"status client={VM}-fd\nmessages", timeout=30)
        assert f"{VM}-fd Version: 9.6" in out and "Daemon started" in out and "Fatal" not in out, out

        stranger = BaculaLab(inv, {VM: ["/var/lib/dcops/data"]}, workdir=tmp_path / "stranger", netns=dl.control_ns,
                             daemons=("dir",), remote_fds={VM: (t.mgmt_ip, 9102)}, fd_connect_timeout="5 seconds",
                             tls=TlsFiles(rogue.folder / "ca.crt", rogue.folder / "dir.crt",
                                          rogue.folder / "dir.key"))
        stranger.d.passwords = dict(bl.d.passwords)  # the right password: only the certificate is wrong
        dl.services["stranger"] = stranger
        stranger.start()
        out = stranger.bconsole(f"status client={VM}-fd\nmessages", timeout=60)
        assert f"Failed to connect to Client {VM}-fd" in out, out
        assert "TLS negotiation failed" in out, out
        assert f"{VM}-fd Version" not in out
