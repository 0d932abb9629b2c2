"""The drills `dcops drill list|run` knows, by name."""
from __future__ import annotations

from . import backup_restore, dr_failover, fw_restore, incident, line_failover, readiness, ups
from .core import Drill

DRILLS: dict[str, Drill] = {}


def _add(d: Drill) -> None:
    DRILLS[d.name] = d


_add(Drill("backup-restore", "Backup restore (tape)",
           "Back up a system's data set to the media server, destroy it on the host, restore it, verify "
           "checksums; RPO/RTO against the backup policy.",
           backup_restore.PLAYBOOK, backup_restore.targets, backup_restore.run, lab=backup_restore.build_lab))

_add(Drill("leased-line-failover", "Leased-line failover",
           "Fail one leased line at the far end, verify the service stays reachable over the other, measure the "
           "outage, restore, verify both lines carry traffic again.",
           line_failover.PLAYBOOK, line_failover.targets, line_failover.run, lab=line_failover.build_lab))

_add(Drill("ups-power-loss", "UPS power loss",
           "With the UPS on battery, shut down least critical first (security level and HA aware) within the "
           "battery runtime, then power on in reverse. Without --execute only the plan.",
           ups.PLAYBOOK, ups.targets, ups.run, lab=ups.build_lab, plan_only_without_execute=True))

_add(Drill("firewall-restore", "Firewall restore",
           "Restore a central firewall's last good configuration from backup (automatic revert unless "
           "confirmed) and verify the traffic policy with real connections.",
           fw_restore.PLAYBOOK, fw_restore.targets, fw_restore.run, lab=fw_restore.build_lab))

_add(Drill("dr-readiness", "Site failover readiness",
           "Check that the DR stack covers every system requiring DR, that their backups are fresh, and estimate "
           "restore time from data sizes and measured restore throughput.",
           readiness.PLAYBOOK, readiness.targets, readiness.run, destructive=False, lab=readiness.build_lab))

_add(Drill("incident-response", "Incident response (lab)",
           "An intrusion on a VM: detect it against the backup catalogue, isolate the VM (forensic SSH kept), "
           "collect evidence, restore the last good backup through Bacula, lift the isolation; times measured.",
           incident.PLAYBOOK, incident.targets, incident.run, lab=incident.build_lab))


_add(Drill("dr-failover", "DR site failover (lab)",
           "Switch one system to the DR site as the DR stack declares it (active mode): restore the declared "
           "backup set into the DR volume through Bacula, move the published address, measure RTO/RPO with "
           "continuous probes, verify the data served, switch back.",
           dr_failover.PLAYBOOK, dr_failover.targets, dr_failover.run, lab=dr_failover.build_lab))


def get(name: str) -> Drill:
    try:
        return DRILLS[name]
    except KeyError:
        raise KeyError(f"unknown drill {name!r}; known: {', '.join(DRILLS)}") from None
