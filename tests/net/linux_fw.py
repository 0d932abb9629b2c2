"""A Linux/nftables firewall in a lab, reached over SSH from a management namespace: the device the Linux
driver's own tests and NAPALM's conformance harness both run against."""
from __future__ import annotations

from dcops.net.drivers.linux_nft import LinuxNftDriver


def open_lab_firewall(lab) -> LinuxNftDriver:
    lab.host("mgmt")
    lab.host("fw", forwarding=True)
    lab.link("mgmt", "eth0", "fw", "mgmt0", addr_a="10.9.0.10/24", addr_b="10.9.0.1/24")
    ep = lab.start_sshd("fw", address="10.9.0.1", private_dirs=["/var/lib/dcops"])
    d = LinuxNftDriver("10.9.0.1", "root", "", optional_args={
        "key_file": str(ep.key), "netns": lab.ns("mgmt"), "host_key_check": False})
    d.open()
    return d
