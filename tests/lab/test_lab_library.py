"""The lab library against real namespaces, sshd, nftables and processes."""
import os
import subprocess

import pytest

from dcops.lab import connect_in, procs, status, teardown
from dcops.lab.netns import LabError, list_namespaces

pytestmark = pytest.mark.lab


def test_hosts_links_servers_and_nft(lab):
    lab.host("a")
    lab.host("b")
    lab.link("a", "eth0", "b", "eth0", addr_a="10.9.0.1/24", addr_b="10.9.0.2/24")
    lab.tcp_server("b", [80, 443])
    assert lab.connect("a", "10.9.0.2", 80) == "dcops-lab b 80 10.9.0.1"
    lab.nft("b", "table inet f {\n chain i {\n  type filter hook input priority 0; policy accept;\n"
                 "  tcp dport 443 drop\n }\n}\n")
    assert lab.connect("a", "10.9.0.2", 443, timeout=0.5) is None
    assert lab.connect("a", "10.9.0.2", 80) is not None
    assert "tcp dport 443 drop" in lab.ruleset("b")
    assert lab.ruleset("a").strip() == ""  # rulesets are per namespace


def test_sshd_with_own_key_and_private_dir(lab):
    lab.host("c")
    lab.host("h")
    lab.link("c", "eth0", "h", "eth0", addr_a="10.9.1.1/24", addr_b="10.9.1.2/24")
    ep = lab.start_sshd("h", address="10.9.1.2", private_dirs=["/var/lib/dcops"])
    sock = connect_in(lab.ns("c"), "10.9.1.2", 22)
    assert sock.recv(8).startswith(b"SSH-2.0")
    sock.close()
    import paramiko
    cli = paramiko.SSHClient()
    cli.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    cli.connect("10.9.1.2", username="root", key_filename=str(ep.key), sock=connect_in(lab.ns("c"), "10.9.1.2", 22),
                allow_agent=False, look_for_keys=False)
    _, out, _ = cli.exec_command("ip -br addr show eth0; touch /var/lib/dcops/marker; ls /var/lib/dcops")
    text = out.read().decode()
    cli.close()
    assert "10.9.1.2" in text and "marker" in text
    assert not os.path.exists("/var/lib/dcops/marker"), "private dir leaked into the machine's filesystem"


def test_cut_link_keeps_carrier(lab):
    lab.host("x")
    lab.host("y")
    lab.link("x", "eth0", "y", "eth0", addr_a="10.9.2.1/24", addr_b="10.9.2.2/24")
    lab.tcp_server("y", [80])
    lab.cut_link("y", "eth0")
    assert lab.connect("x", "10.9.2.2", 80, timeout=0.5) is None
    assert "state UP" in lab.exec("x", ["ip", "link", "show", "eth0"]).stdout  # near end sees no link-down
    lab.restore_link("y", "eth0")
    assert lab.connect("x", "10.9.2.2", 80) is not None


def test_teardown_from_state_file_after_crash(lab):
    """A run that died leaves its state file; teardown by name removes everything it recorded."""
    ns = lab.host("z")
    pid = lab.spawn("z", ["sleep", "300"], what="sleeper")
    assert procs.alive(pid)
    # simulate a crashed run: forget the Lab object, keep the state file
    removed = teardown(lab.name)
    assert ns not in list_namespaces()
    assert not procs.alive(pid)
    assert any("namespace" in r for r in removed) and any("process" in r for r in removed)
    assert status(lab.name)["namespaces"] == []


def test_stop_never_kills_a_recycled_pid(lab):
    p = subprocess.Popen(["sleep", "30"])
    try:
        procs.stop(p.pid, started=(procs.start_time(p.pid) or 0) + 1)  # wrong start time: not ours
        assert p.poll() is None
    finally:
        p.kill()
        p.wait()


def test_bad_interface_name_is_refused(lab):
    lab.host("q")
    lab.host("r")
    with pytest.raises(LabError, match="longer than 15"):
        lab.link("q", "a-very-long-interface", "r", "eth0")
