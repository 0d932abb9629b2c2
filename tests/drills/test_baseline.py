"""The host baseline playbook on a namespace host over SSH, logging in as an unprivileged user that becomes
root with sudo: check mode changes nothing, packages through the generic package module, a change
notifies its handler (the lab host's own sshd is reloaded with the hardening it includes), and the
second run changes nothing and runs no handler."""
import os
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml

from dcops import paths
from dcops.drills.inventory import dynamic, static_yaml
from dcops.drills.lab import DrillLab
from dcops.drills.runner import run_playbook

pytestmark = pytest.mark.lab

ROLE = paths.PLAYBOOKS / "roles/host_baseline"
HARDENING = "/var/lib/dcops/root/etc/ssh/sshd_config.d/*.conf"


def _changed(run):
    return sorted({s.task for s in run.steps if s.changed})


def _ran(run, task):
    return [s.status for s in run.steps if s.task == task]


class LabUser:
    """An unprivileged login with sudo, for one test: created with a unique name and removed after
    (the lab hosts share the machine's /etc/passwd and /etc/sudoers.d)."""

    def __init__(self, home: str):
        self.name = f"dcl{secrets.token_hex(3)}"
        self.sudoers = Path(f"/etc/sudoers.d/dcops-lab-{self.name}")
        # '*' (no password, not '!' locked): sshd without PAM refuses a locked account even with a key
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh",
                        "-p", "*", self.name], check=True, capture_output=True)
        tmp = self.sudoers.with_name(f".{self.sudoers.name}")
        tmp.write_text(f"{self.name} ALL=(root) NOPASSWD: ALL\n")
        tmp.chmod(0o440)
        subprocess.run(["visudo", "-cqf", str(tmp)], check=True)
        os.replace(tmp, self.sudoers)

    def remove(self) -> None:
        self.sudoers.unlink(missing_ok=True)
        pids = subprocess.run(["pgrep", "-u", self.name], capture_output=True, text=True).stdout.split()
        for pid in pids:  # its SSH sessions, by id
            subprocess.run(["kill", pid], check=False)
        subprocess.run(["userdel", "-f", self.name], check=False, capture_output=True)


@pytest.mark.skipif(not Path("/usr/bin/sudo").exists(), reason="needs sudo (bootstrap.sh installs it)")
def test_baseline_becomes_root_installs_packages_runs_handlers_and_is_idempotent(inv, lab_prefix, monkeypatch):
    monkeypatch.setenv("DCOPS_SNMP_AUTH_KEY", "lab-auth-key-123")
    monkeypatch.setenv("DCOPS_SNMP_PRIV_KEY", "lab-priv-key-456")
    home = "/var/lib/dcops/home"
    user = LabUser(home)
    try:
        with DrillLab(lab_prefix) as dl:
            t = dl.target("kg-cmp-23", "h1", baseline_root="/var/lib/dcops/root", baseline_manage_services=False,
                          ansible_user=user.name, baseline_packages=["openssh-server", "snmpd"],
                          sshd_extra=f"AuthorizedKeysFile .ssh/authorized_keys\nInclude {HARDENING}")
            dl.extra_vars["kg-cmp-23"]["baseline_lab_services"] = {"sshd": f"kill -HUP {t.sshd_pid}"}
            hdir = dl.host_dir("kg-cmp-23")
            (hdir / "home/.ssh").mkdir(parents=True)
            (hdir / "home/.ssh/authorized_keys").write_text(dl.key.public + "\n")
            subprocess.run(["chown", "-R", user.name, str(hdir / "home")], check=True)
            root = hdir / "root"

            def play(check):
                return run_playbook("site-baseline.yml", inventory=static_yaml(dynamic(inv, dl.overlay(), lab=True)),
                                    extravars={"baseline_hosts": "kg-cmp-23"}, check=check, control_ns=dl.control_ns)

            first_check = play(True)
            assert first_check.ok, first_check.failed_steps
            assert "Harden SSH" in _changed(first_check) and not root.joinpath("etc").exists()
            applied = play(False)
            assert applied.ok, applied.failed_steps
            assert {"Time from the site's NTP servers (chrony)", "Forward syslog to the site's collectors",
                    "Harden SSH"} <= set(_changed(applied))
            # the generic package module, for real: the lab's packages are there already
            assert _ran(applied, "Baseline packages are installed") == ["ok"]
            # each change notified its handler; sshd's lab stand-in ran (the lab sshd reloaded its hardening)
            assert _ran(applied, "Reload sshd (lab stand-in)") == ["ok"]
            assert _ran(applied, "Reload sshd") == ["skipped"] and _ran(applied, "Restart chrony") == ["skipped"]
            assert os.kill(t.sshd_pid, 0) is None  # alive after the reload
            hardened = root / "etc/ssh/sshd_config.d/50-dcops-hardening.conf"
            assert hardened.stat().st_uid == 0 and hardened.stat().st_mode & 0o777 == 0o600  # written as root
            chrony = (root / "etc/chrony/chrony.conf").read_text()
            assert all(f"server {s} iburst" in chrony for s in inv.site.ntp_servers)
            assert "PasswordAuthentication no" in hardened.read_text()
            assert "PermitRootLogin no" in hardened.read_text()
            assert "createUser dcops-noc SHA-256" in (root / "etc/snmp/snmpd.conf").read_text()
            # a new login to the reloaded, hardened sshd; nothing changes, no handler runs
            again = play(False)
            assert again.ok and _changed(again) == [], again.failed_steps
            assert again.stats["changed"] == {} and not [s for s in again.steps if "Reload" in s.task or
                                                          "Restart" in s.task]
    finally:
        user.remove()
    assert subprocess.run(["id", user.name], capture_output=True).returncode != 0


def test_debian_and_rhel_paths_name_the_same_things():
    deb = yaml.safe_load((ROLE / "vars/Debian.yml").read_text())["host_baseline_os"]
    rhel = yaml.safe_load((ROLE / "vars/RedHat.yml").read_text())["host_baseline_os"]
    assert deb.keys() == rhel.keys() == {"packages", "services", "files"}
    assert deb["services"].keys() == rhel["services"].keys() == deb["files"].keys() == rhel["files"].keys()
    assert (deb["services"]["sshd"], rhel["services"]["sshd"]) == ("ssh", "sshd")
    assert (deb["services"]["chrony"], rhel["services"]["chrony"]) == ("chrony", "chronyd")
    assert (deb["files"]["chrony"], rhel["files"]["chrony"]) == ("/etc/chrony/chrony.conf", "/etc/chrony.conf")
    assert "snmpd" in deb["packages"] and "net-snmp" in rhel["packages"]
    handlers = yaml.safe_load((ROLE / "handlers/main.yml").read_text())
    services = [h for h in handlers if "ansible.builtin.service" in h]
    assert {h["ansible.builtin.service"]["name"] for h in services} == {
        "{{ host_baseline_services.%s }}" % s for s in deb["services"]}
    tasks = yaml.safe_load((ROLE / "tasks/main.yml").read_text())
    assert {t["notify"] for t in tasks if "notify" in t} == {h["listen"] for h in handlers}
    site = yaml.safe_load((paths.PLAYBOOKS / "site-baseline.yml").read_text())
    assert site[0]["become"] is True and "ansible.builtin.package" in {k for t in tasks for k in t}
