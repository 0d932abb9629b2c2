"""The host baseline playbook on a namespace host over SSH: check mode changes nothing, idempotent."""
import pytest

from dcops.drills.inventory import dynamic, static_yaml
from dcops.drills.lab import DrillLab
from dcops.drills.runner import run_playbook

pytestmark = pytest.mark.lab


def _changed(run):
    return sorted({s.task for s in run.steps if s.changed})


def test_baseline_check_mode_then_idempotent(inv, lab_prefix, monkeypatch):
    monkeypatch.setenv("DCOPS_SNMP_AUTH_KEY", "lab-auth-key-123")
    monkeypatch.setenv("DCOPS_SNMP_PRIV_KEY", "lab-priv-key-456")
    with DrillLab(lab_prefix) as dl:
        dl.target("kg-cmp-23", "h1", baseline_root="/var/lib/dcops/root", baseline_manage_services=False)
        root = dl.host_dir("kg-cmp-23") / "root"

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
        chrony = (root / "etc/chrony/chrony.conf").read_text()
        assert all(f"server {s} iburst" in chrony for s in inv.site.ntp_servers)
        assert "PasswordAuthentication no" in (root / "etc/ssh/sshd_config.d/50-dcops-hardening.conf").read_text()
        assert "createUser dcops-noc SHA-256" in (root / "etc/snmp/snmpd.conf").read_text()
        again = play(False)
        assert again.ok and _changed(again) == []
