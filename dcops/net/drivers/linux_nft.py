"""NAPALM driver for the Linux/nftables reference platform.

A third-party NAPALM driver in the usual shape (one `NetworkDriver` subclass
per module, loaded by name like ``napalm_<name>`` drivers): the pusher uses it
with exactly the verbs of any vendor driver.

The device is any Linux host reachable over SSH with ``nft``. The
configuration is the nftables ruleset, in the form ``nft -s list ruleset``
prints, preceded by ``flush ruleset`` so that every saved config is a complete
replace candidate. Commits are atomic (one ``nft -f`` transaction). State
lives on the device in ``state_dir`` (default ``/var/lib/dcops/napalm``):

    lock            who holds the device between load and confirm/discard (see locking.py)
    .mutex          flock(1) file: every state change runs under it, one at a time
    candidate.nft   loaded, validated, not yet committed (candidate.id: the loader's lock token)
    rollback.nft    the ruleset before the last commit
    pending         pid of the detached revert timer of an unconfirmed commit
    startup.nft     last confirmed ruleset (what a boot should load)
    history.log     one line per commit / confirm / revert / rollback

Commit-confirm: the revert timer is started *before* the new ruleset is
applied and runs in its own session on the device, so a lost SSH session at
any point leaves either the old ruleset or the new one with a timer that
restores the old. Confirm and revert race through an atomic rename of
``pending``: exactly one of them wins.

Locking: load takes the device's lock (``lock`` file, token = candidate id)
or fails with ``DeviceBusy`` ("device busy: locked by USER@HOST since T");
commit checks that lock, the candidate id and its checksum; confirm, discard,
a commit without revert and the revert timer release it.

optional_args: ``port`` (22), ``key_file``, ``state_dir``, ``known_hosts``
(file; default the user's), ``host_key_check`` (True), ``netns`` (open the
TCP connection from inside that network namespace — used by the lab),
``command_timeout`` (max(timeout, 10)), ``lock_token`` (share one lock between
several sessions of one operation; default: random per driver),
``lock_owner`` (USER@HOST), ``lock_lease`` (900 s: after that, and with no
commit pending, a lock counts as stale).
"""
from __future__ import annotations

import difflib
import json
import os
import secrets
import shlex
import socket
import time
from typing import Any

import paramiko
from napalm.base import NetworkDriver
from napalm.base.exceptions import (
    CommitConfirmException,
    CommitError,
    ConnectionException,
    MergeConfigException,
    ReplaceConfigException,
)

from . import locking
from .locking import DeviceBusy

FLUSH = "flush ruleset\n"
_SPLIT = "@@dcops-split@@"
# nft's listing is not always a fixed point of load+list after one round (e.g. a one-element
# anonymous set loses its braces), so canonical = list(load(list(load(candidate)))).
_FIXPOINT = ("{ echo 'flush ruleset'; nft -s list ruleset; } > canon1.tmp && nft -f canon1.tmp && "
             "rm -f canon1.tmp && nft -s list ruleset")

# Shell run on the device. Placeholders {name} are filled by _fill() (shell-quoted values); every other
# brace is the shell's own. Every state change runs under the device's mutex (flock on .mutex).
_MUTEX = r"""
mkdir -p {state} && cd {state} || exit 2
exec 9>>.mutex
flock -w 30 9 || { echo "the device's dcops state stayed locked for 30 s" >&2; exit 11; }
TOKEN={token}
held() { sed -n 's/^token=//p' lock 2>/dev/null; }
mine() { [ -f lock ] && [ "$(held)" = "$TOKEN" ]; }
pending() { [ -e pending ] || [ -e reverting ]; }
stale() { [ "$(date +%s)" -ge "$(sed -n 's/^expires=//p' lock 2>/dev/null)" ] 2>/dev/null; }
drop_candidate() { rm -f candidate.nft candidate.mode candidate.id candidate.sum candidate.canon candidate.canon.sum; }
"""

_REVERT_SH = r"""sleep "$1"
cd "$(dirname "$0")"
exec 9>>.mutex
flock -w 60 9 || true   # the revert must happen: a minute stuck behind another command is the most it waits
mv pending reverting 2>/dev/null || exit 0
if nft -f rollback.nft; then
  echo "$(date -u +%FT%TZ) reverted: commit not confirmed within $1 s; lock of $(sed -n 's/^owner=//p' lock 2>/dev/null) released" >> history.log
else
  echo "$(date -u +%FT%TZ) REVERT FAILED" >> history.log
fi
rm -f reverting lock
"""

# Upload first (network I/O outside the mutex), then take the lock (or say who holds it: exit 10, the
# lock on stdout) and validate the candidate.
_LOAD_SH = r"""
mkdir -p {state} && cd {state} || exit 2
up=upload.$$.tmp
trap 'rm -f "$PWD/$up"' EXIT
cat > "$up"
""" + _MUTEX + r"""
if [ -f lock ] && ! mine; then
  if pending || { ! stale && [ "$(held)" != {break_token} ]; }; then cat lock; exit 10; fi
  echo "$(date -u +%FT%TZ) broke stale lock: $(tr '\n' ' ' < lock)" >> history.log
  echo "stale lock of $(sed -n 's/^owner=//p' lock) (since $(sed -n 's/^since=//p' lock)) broken" >&2
  drop_candidate; rm -f lock
fi
had=no; mine && had=yes
if [ $had = no ]; then
  printf 'token=%s\nowner=%s\npid=%s\nsince=%s\nexpires=%s\n' "$TOKEN" {owner} {pid} "$(date -u +%FT%TZ)" \
    $(( $(date +%s) + {lease} )) > lock.tmp && mv lock.tmp lock
else
  sed -i "s/^expires=.*/expires=$(( $(date +%s) + {lease} ))/" lock
fi
mv "$up" candidate.tmp
if nft -c -f candidate.tmp; then
  mv candidate.tmp candidate.nft && echo {mode} > candidate.mode && echo "$TOKEN" > candidate.id &&
  cksum < candidate.nft > candidate.sum && rm -f candidate.canon candidate.canon.sum
else
  rc=$?; rm -f candidate.tmp
  if [ $had = no ] && ! pending; then rm -f lock; fi
  exit $rc
fi
"""

# Our candidate, in canonical form: loaded into a throwaway network namespace on the device.
_COMPARE_SH = _MUTEX + r"""
[ -f candidate.nft ] && [ "$(cat candidate.id 2>/dev/null)" = "$TOKEN" ] || exit 3
nft -s list ruleset > run.tmp || exit 4
merge=""; [ "$(cat candidate.mode 2>/dev/null)" = merge ] && merge="nft -f run.tmp && "
if unshare -n sh -c "${merge}nft -f candidate.nft && {fixpoint}" > canon.tmp 2>/dev/null; then
  { echo 'flush ruleset'; cat canon.tmp; } > candidate.canon && cksum < candidate.nft > candidate.canon.sum
  shown=candidate.canon
else
  shown=candidate.nft
fi
cat run.tmp; echo {split}; cat $shown; rm -f run.tmp canon.tmp
"""

_COMMIT_SH = _MUTEX + r"""
set -e
[ -f candidate.nft ] || { echo "no candidate loaded" >&2; exit 3; }
if ! mine; then echo "this session does not hold the device lock (held by $(sed -n 's/^owner=//p' lock 2>/dev/null || echo nobody)); load again" >&2; exit 8; fi
if [ "$(cat candidate.id 2>/dev/null)" != "$TOKEN" ] || [ "$(cksum < candidate.nft)" != "$(cat candidate.sum 2>/dev/null)" ]; then
  echo "the loaded candidate is not the one this session loaded (candidate id or checksum differs); load again" >&2; exit 8
fi
if pending; then echo "a commit-confirm is pending; confirm or roll back first" >&2; exit 4; fi
mode=$(cat candidate.mode 2>/dev/null || echo replace)
# Apply the canonical form (what `nft -s list ruleset` prints once loaded) so that a saved ruleset
# reloads byte for byte. compare_config() leaves it behind for this very candidate; otherwise it is
# built here in a throwaway network namespace; failing that, the candidate is applied as given.
rm -f canonical
if [ -f candidate.canon ] && [ "$(cksum < candidate.nft)" = "$(cat candidate.canon.sum 2>/dev/null)" ]; then
  cp candidate.canon apply.nft; touch canonical
else
  load=""
  if [ "$mode" = merge ]; then nft -s list ruleset > run.tmp; load="nft -f run.tmp && "; fi
  if unshare -n sh -c "${load}nft -f candidate.nft && {fixpoint}" > canon.tmp 2>/dev/null; then
    { echo "flush ruleset"; cat canon.tmp; } > apply.nft; touch canonical
  else
    nft -c -f candidate.nft
    cp candidate.nft apply.nft
  fi
  rm -f canon.tmp run.tmp
fi
cat > revert.sh <<'DCOPS_REVERT'
{revert_sh}DCOPS_REVERT
[ -f rollback.nft ] && cp rollback.nft rollback.prev
{ echo "flush ruleset"; nft -s list ruleset; } > rollback.nft.tmp && mv rollback.nft.tmp rollback.nft
if [ {revert} -gt 0 ]; then
  # fd 9 (the mutex) must not be inherited, or the timer would hold the mutex for its whole life
  setsid sh "$PWD/revert.sh" {revert} 9>&- </dev/null >/dev/null 2>&1 &
  echo $! > pending
fi
if ! nft -f apply.nft; then
  if mv pending cancelling 2>/dev/null; then kill -- -"$(cat cancelling)" 2>/dev/null || true; rm -f cancelling; fi
  [ -f rollback.prev ] && mv rollback.prev rollback.nft
  echo "nft -f failed; ruleset unchanged" >&2; exit 5
fi
mv apply.nft applied.nft
drop_candidate; rm -f rollback.prev
if [ {revert} -eq 0 ]; then
  if [ -f canonical ]; then cp applied.nft startup.nft; else { echo "flush ruleset"; nft -s list ruleset; } > startup.nft; fi
  rm -f lock
fi
echo "$(date -u +%FT%TZ) commit mode=$mode revert_in={revert} by $(sed -n 's/^owner=//p' lock 2>/dev/null || echo {owner}) {message}" >> history.log
"""

_CONFIRM_SH = _MUTEX + r"""
if [ -f lock ] && ! mine; then echo "the device lock is held by $(sed -n 's/^owner=//p' lock), not by this session" >&2; exit 9; fi
mv pending confirming 2>/dev/null || { echo "no commit-confirm pending (already reverted or confirmed)" >&2; exit 6; }
kill -- -"$(cat confirming)" 2>/dev/null || kill "$(cat confirming)" 2>/dev/null || true
rm -f confirming
if [ -f canonical ] && [ -f applied.nft ]; then cp applied.nft startup.nft; else { echo "flush ruleset"; nft -s list ruleset; } > startup.nft; fi
echo "$(date -u +%FT%TZ) confirmed by $(sed -n 's/^owner=//p' lock 2>/dev/null)" >> history.log
rm -f lock
"""

_ROLLBACK_SH = _MUTEX + r"""
set -e
if [ -f lock ] && ! mine; then
  if pending || ! stale; then cat lock; exit 10; fi
  echo "$(date -u +%FT%TZ) broke stale lock: $(tr '\n' ' ' < lock)" >> history.log
fi
[ -f rollback.nft ] || { echo "nothing to roll back to (no earlier commit)" >&2; exit 7; }
if mv pending cancelling 2>/dev/null; then kill -- -"$(cat cancelling)" 2>/dev/null || true; rm -f cancelling; fi
{ echo "flush ruleset"; nft -s list ruleset; } > rollback.swap
nft -f rollback.nft
mv rollback.swap rollback.nft
{ echo "flush ruleset"; nft -s list ruleset; } > startup.nft
drop_candidate; rm -f lock
echo "$(date -u +%FT%TZ) rollback" >> history.log
"""

_DISCARD_SH = _MUTEX + r"""
[ "$(cat candidate.id 2>/dev/null)" = "$TOKEN" ] && drop_candidate
if mine && ! pending; then rm -f lock; fi
exit 0
"""

# Operators only (`dcops net unlock`): remove whatever lock there is, unless a commit-confirm is pending.
_UNLOCK_SH = _MUTEX + r"""
[ -f lock ] || exit 0
if pending; then cat lock; exit 12; fi
cat lock
echo "$(date -u +%FT%TZ) unlocked by {owner}: $(tr '\n' ' ' < lock)" >> history.log
drop_candidate; rm -f lock
"""

_PENDING_SH = r"""
cd {state} 2>/dev/null || exit 1
[ -e pending ] || [ -e reverting ] || exit 1
pid=$(cat pending 2>/dev/null || cat reverting 2>/dev/null)
kill -0 "$pid" 2>/dev/null
"""


def _fill(template: str, **values: str) -> str:
    """Put the values in their {name} places (values are already shell words); other braces stay."""
    for k, v in values.items():
        template = template.replace("{" + k + "}", v)
    return template


class LinuxNftDriver(NetworkDriver):
    """NAPALM driver: Linux host, nftables ruleset as the configuration."""

    platform = "linux"

    def __init__(self, hostname: str, username: str, password: str, timeout: int = 60,
                 optional_args: dict[str, Any] | None = None) -> None:
        self.hostname = hostname
        self.username = username
        self.password = password or None  # "" = key authentication only
        self.timeout = timeout
        args = dict(optional_args or {})
        self.port = int(args.get("port", 22))
        self.key_file = args.get("key_file")
        self.state_dir = args.get("state_dir", "/var/lib/dcops/napalm")
        self.known_hosts = args.get("known_hosts")
        self.host_key_check = bool(args.get("host_key_check", True))
        self.netns = args.get("netns")
        self.command_timeout = float(args.get("command_timeout", max(timeout, 10)))
        self.lock_token = str(args.get("lock_token") or secrets.token_hex(16))
        self.lock_owner = str(args.get("lock_owner") or locking.owner())
        self.lock_lease = int(args.get("lock_lease", 900))
        self.lock_note: str | None = None   # e.g. "stale lock of … broken" from the last load
        self._client: paramiko.SSHClient | None = None
        self._candidate_mode: str | None = None
        self.device_lock = DeviceLock(self)   # not a NAPALM verb: an attribute, so the API stays NAPALM's

    # ------------------------------------------------------------ session
    def open(self) -> None:
        client = paramiko.SSHClient()
        if self.host_key_check:
            client.load_system_host_keys(self.known_hosts) if self.known_hosts else client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        else:
            client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        try:
            sock = None
            if self.netns:
                from dcops.lab.netns import connect_in
                sock = connect_in(self.netns, self.hostname, self.port, timeout=self.timeout)
            client.connect(self.hostname, port=self.port, username=self.username, password=self.password,
                           key_filename=self.key_file, sock=sock, timeout=self.timeout,
                           banner_timeout=self.timeout, auth_timeout=self.timeout,
                           allow_agent=False, look_for_keys=False)
        except (OSError, paramiko.SSHException) as e:
            client.close()
            raise ConnectionException(f"cannot open SSH to {self.hostname}:{self.port}: {e}") from e
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def is_alive(self) -> dict[str, bool]:
        t = self._client.get_transport() if self._client else None
        return {"is_alive": bool(t and t.is_active())}

    # ------------------------------------------------------------ transport
    @staticmethod
    def _q(s: str) -> str:
        return shlex.quote(s)

    def _sh(self, command: str, *, input: str | None = None, check: bool = True) -> tuple[int, str, str]:
        if self._client is None:
            raise ConnectionException(f"{self.hostname}: not connected (call open() first)")
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionException(f"{self.hostname}: SSH session lost")
        try:
            chan = transport.open_session(timeout=self.timeout)
            chan.settimeout(self.command_timeout)
            chan.exec_command(f"sh -c {self._q(command)}")
            if input is not None:
                chan.sendall(input.encode())
            chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + self.command_timeout
            while True:
                if chan.recv_ready():
                    out += chan.recv(65536)
                elif chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                elif chan.exit_status_ready():
                    while chan.recv_ready():
                        out += chan.recv(65536)
                    while chan.recv_stderr_ready():
                        err += chan.recv_stderr(65536)
                    break
                elif chan.closed or not transport.is_active():
                    raise ConnectionException(f"{self.hostname}: SSH session lost during command")
                elif time.monotonic() > deadline:
                    raise ConnectionException(f"{self.hostname}: command timed out after {self.command_timeout}s")
                else:
                    time.sleep(0.005)
            rc = chan.recv_exit_status()
            chan.close()
        except (OSError, EOFError, socket.timeout, paramiko.SSHException) as e:
            raise ConnectionException(f"{self.hostname}: SSH session lost: {e}") from e
        o, e_ = out.decode(errors="replace"), err.decode(errors="replace")
        if check and rc != 0:
            raise CommitError(f"{self.hostname}: `{command.splitlines()[0][:60]}` failed: {e_.strip() or o.strip()}")
        return rc, o, e_

    def _script(self, template: str, *, input: str | None = None, **kw: str) -> tuple[int, str, str]:
        values = {"state": self._q(self.state_dir), "token": self._q(self.lock_token),
                  "owner": self._q(self.lock_owner), **kw}
        return self._sh(_fill(template, **values), input=input, check=False)

    # ------------------------------------------------------------ getters
    def get_facts(self) -> dict[str, Any]:
        _, out, _ = self._sh(
            "hostname; hostname -f 2>/dev/null || hostname; cut -d. -f1 /proc/uptime; uname -r; "
            "nft --version; cat /etc/machine-id 2>/dev/null || echo unknown; "
            "ls /sys/class/net | tr '\\n' ' '"
        )
        lines = out.splitlines() + [""] * 7
        return {
            "hostname": lines[0], "fqdn": lines[1], "uptime": float(lines[2] or 0),
            "vendor": "Linux", "model": "nftables", "os_version": f"{lines[3]} ({lines[4]})",
            "serial_number": lines[5], "interface_list": sorted(lines[6].split()),
        }

    def get_config(self, retrieve: str = "all", full: bool = False, sanitized: bool = False,
                   format: str = "text") -> dict[str, str]:
        cfg = {"running": "", "candidate": "", "startup": ""}
        if retrieve in ("all", "running"):
            cfg["running"] = self._running()
        if retrieve in ("all", "candidate"):
            cfg["candidate"] = self._sh(f"cat {self._q(self.state_dir)}/candidate.nft 2>/dev/null", check=False)[1]
        if retrieve in ("all", "startup"):
            cfg["startup"] = self._sh(f"cat {self._q(self.state_dir)}/startup.nft 2>/dev/null", check=False)[1]
        return cfg

    def _running(self) -> str:
        return FLUSH + self._sh("nft -s list ruleset")[1]

    def _json(self, command: str):
        out = self._sh(command)[1]
        return json.loads(out) if out.strip() else []

    def get_interfaces(self) -> dict[str, dict[str, Any]]:
        links = self._json("ip -j link show")
        speeds = dict(ln.split(" ", 1) for ln in self._sh(
            "for d in /sys/class/net/*; do echo \"${d##*/} $(cat $d/speed 2>/dev/null || echo -1)\"; done")[1]
            .splitlines() if " " in ln)
        out = {}
        for ln in links:
            flags = ln.get("flags", [])
            speed = speeds.get(ln["ifname"], "-1").strip()
            out[ln["ifname"]] = {
                "is_up": "LOWER_UP" in flags and ln.get("operstate") in ("UP", "UNKNOWN"),
                "is_enabled": "UP" in flags, "description": ln.get("ifalias", ""), "last_flapped": -1.0,
                "mtu": int(ln.get("mtu", 0)), "speed": float(speed) if speed.lstrip("-").isdigit() else -1.0,
                "mac_address": (ln.get("address") or "").upper() if ln.get("link_type") == "ether" else "",
            }
        return out

    def get_interfaces_ip(self) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
        out: dict = {}
        for ln in self._json("ip -j addr show"):
            for a in ln.get("addr_info", []):
                fam = {"inet": "ipv4", "inet6": "ipv6"}.get(a.get("family"))
                if fam:
                    out.setdefault(ln["ifname"], {}).setdefault(fam, {})[a["local"]] = {"prefix_length": int(a["prefixlen"])}
        return out

    def get_arp_table(self, vrf: str = "") -> list[dict[str, Any]]:
        if vrf:
            raise NotImplementedError("VRFs are not modelled on the Linux platform")
        out = []
        for n in self._json("ip -j -s -4 neigh show"):
            if "lladdr" not in n or n.get("state") == ["FAILED"]:
                continue
            used = n.get("used")  # seconds since last used (iproute2 -s), when known
            out.append({"interface": n.get("dev", ""), "mac": n["lladdr"].upper(), "ip": n["dst"],
                        "age": float(used[0]) if isinstance(used, list) and used else -1.0})
        return out

    def get_route_to(self, destination: str = "", protocol: str = "", longer: bool = False) -> dict[str, list]:
        """Routes (every table) that match `destination` (an address or prefix); `longer` adds more-specifics."""
        import ipaddress
        dest = ipaddress.ip_network(destination or "0.0.0.0/0", strict=False)
        out: dict[str, list] = {}
        for r in self._json("ip -j route show table all"):
            if r.get("type", "unicast") != "unicast":
                continue
            pfx = ipaddress.ip_network("0.0.0.0/0" if r["dst"] == "default" else r["dst"], strict=False)
            if pfx.version != dest.version:
                continue
            if not (dest.subnet_of(pfx) or (longer and pfx.subnet_of(dest))):
                continue
            proto = r.get("protocol", "static" if r.get("gateway") else "connected")
            proto = {"kernel": "connected", "boot": "static"}.get(proto, proto)
            if protocol and proto != protocol:
                continue
            out.setdefault(str(pfx), []).append({
                "protocol": proto, "current_active": True, "last_active": True, "age": -1,
                "next_hop": r.get("gateway", ""), "outgoing_interface": r.get("dev", ""),
                "selected_next_hop": True, "preference": int(r.get("metric", 0)), "inactive_reason": "",
                "routing_table": str(r.get("table", "main")), "protocol_attributes": {}})
        return out

    def get_firewall_policies(self) -> dict[str, list[dict[str, Any]]]:
        """Every rule of every nftables chain, in order; counters where the rule has one."""
        data = self._json("nft -j list ruleset")
        out: dict[str, list] = {}
        for item in data.get("nftables", []) if isinstance(data, dict) else []:
            rule = item.get("rule")
            if not rule:
                continue
            name = f"{rule['family']} {rule['table']} {rule['chain']}"
            policies = out.setdefault(name, [])
            fields = _rule_fields(rule.get("expr", []))
            policies.append({"position": len(policies) + 1, "id": str(rule.get("handle", "")), "enabled": True,
                             "schedule": "always", "src_zone": fields.pop("iifname", "any"),
                             "dst_zone": fields.pop("oifname", "any"), **fields,
                             "log": fields.get("log", "disabled")})
        return out

    # ------------------------------------------------------------ candidate
    def _load(self, text: str, mode: str, exc: type[Exception]) -> None:
        if mode == "replace" and not text.lstrip().startswith("flush ruleset"):
            text = FLUSH + text
        # One round trip under the device's mutex: take the lock, upload to a temp file, validate with
        # `nft -c`, and only then make it the candidate — a lost session or a bad ruleset never leaves
        # half a candidate behind, and nobody else's candidate is ever touched.
        self.lock_note = None
        break_token = "-"
        for _ in range(2):
            rc, out, err = self._script(_LOAD_SH, input=text, mode=mode, break_token=self._q(break_token),
                                        pid=str(os.getpid()), lease=str(self.lock_lease))
            if rc != 10:
                break
            holder = locking.parse(out)
            if break_token == "-" and locking.holder_gone(holder):
                break_token = holder.get("token", "-")  # its process is gone from this machine: take over
                continue
            self._candidate_mode = None
            raise DeviceBusy(self.hostname, holder)
        if "stale lock" in err:
            self.lock_note = next(ln for ln in err.splitlines() if "stale lock" in ln)
        if rc != 0:
            self._candidate_mode = None
            msg = "\n".join(ln for ln in (err or out).strip().splitlines() if "stale lock" not in ln)
            raise exc(f"{self.hostname}: candidate rejected by `nft -c`: {msg.replace('candidate.tmp', 'candidate')}")
        self._candidate_mode = mode

    def load_replace_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        self._load(_text(filename, config), "replace", ReplaceConfigException)

    def load_merge_candidate(self, filename: str | None = None, config: str | None = None) -> None:
        text = _text(filename, config)
        if "flush ruleset" in text:
            raise MergeConfigException("a merge candidate must not flush the ruleset; use load_replace_candidate")
        self._load(text, "merge", MergeConfigException)

    def compare_config(self) -> str:
        """Unified diff running → candidate, both in `nft -s list ruleset` form.

        The candidate is loaded into a throwaway network namespace on the
        device (`unshare -n`) so the diff compares like with like; that
        canonical form is kept for commit_config to apply. Only this session's
        candidate is compared ("" when it has none loaded).
        """
        rc, out, err = self._script(_COMPARE_SH, fixpoint=_FIXPOINT, split=_SPLIT)
        if rc == 3:
            return ""
        if rc != 0 or _SPLIT not in out:
            raise CommitError(f"{self.hostname}: cannot compare: {(err or out).strip()}")
        running, candidate = out.split(_SPLIT + "\n", 1)
        # NAPALM drivers return the diff without a trailing newline (the harness compares stripped text)
        return unified(FLUSH + running, candidate, "running", "candidate").rstrip("\n")

    def _mode(self) -> str:
        if self._candidate_mode:
            return self._candidate_mode
        return self._sh(f"cat {self._q(self.state_dir)}/candidate.mode 2>/dev/null || echo replace",
                        check=False)[1].strip() or "replace"

    def discard_config(self) -> None:
        """Drop this session's candidate and release its lock (kept while a commit-confirm is pending)."""
        rc, out, err = self._script(_DISCARD_SH)
        if rc != 0:
            raise CommitError(f"{self.hostname}: discard failed: {(err or out).strip()}")
        self._candidate_mode = None

    # ------------------------------------------------------------ commit
    def commit_config(self, message: str = "", revert_in: int | None = None) -> None:
        revert = int(revert_in or 0)
        if revert < 0:
            raise CommitError("revert_in must be positive")
        rc, out, err = self._script(_COMMIT_SH, revert=str(revert), message=self._q(message.replace("\n", " ")),
                                    revert_sh=_REVERT_SH, fixpoint=_FIXPOINT)
        if rc != 0:
            text = (err or out).strip()
            raise CommitError(f"{self.hostname}: commit failed: {text.splitlines()[-1] if text else rc}")
        self._candidate_mode = None

    def confirm_commit(self) -> None:
        rc, out, err = self._script(_CONFIRM_SH)
        if rc != 0:
            raise CommitConfirmException(f"{self.hostname}: {(err or out).strip()}")

    def has_pending_commit(self) -> bool:
        return self._script(_PENDING_SH)[0] == 0

    def rollback(self) -> None:
        rc, out, err = self._script(_ROLLBACK_SH)
        if rc == 10:
            raise DeviceBusy(self.hostname, locking.parse(out))
        if rc != 0:
            raise CommitError(f"{self.hostname}: rollback failed: {(err or out).strip()}")


class DeviceLock:
    """The device's lock, for operators (`dcops net unlock`): who holds it; remove a stale one."""

    def __init__(self, driver: "LinuxNftDriver"):
        self.d = driver

    def info(self) -> dict[str, str] | None:
        """Who holds the device (owner, pid, since, expires, token), or None."""
        out = self.d._sh(f"cat {self.d._q(self.d.state_dir)}/lock 2>/dev/null", check=False)[1]
        return locking.parse(out) or None

    def unlock(self) -> dict[str, str] | None:
        """Remove the lock and its candidate; refused while a commit-confirm is pending."""
        rc, out, err = self.d._script(_UNLOCK_SH)
        if rc == 12:
            raise CommitError(f"{self.d.hostname}: a commit-confirm of {locking.parse(out).get('owner', '?')} is "
                              "pending; it reverts by itself when its timer runs out (or confirm/roll it back)")
        if rc != 0:
            raise CommitError(f"{self.d.hostname}: unlock failed: {(err or out).strip()}")
        return locking.parse(out) or None


def _rule_fields(exprs: list) -> dict[str, Any]:
    """What a rule matches and does, in NAPALM's firewall-policy terms (strings, 'any' when unmatched)."""
    f: dict[str, Any] = {"l3_src": "any", "l3_dst": "any", "service": "any", "action": "continue",
                         "packet_hits": 0, "byte_hits": 0}
    services = []
    for e in exprs:
        if "match" in e:
            left, right = e["match"].get("left", {}), e["match"].get("right")
            value = _nft_value(right)
            if isinstance(left, dict) and "payload" in left:
                p = left["payload"]
                key = (p.get("protocol"), p.get("field"))
                if key[1] == "saddr":
                    f["l3_src"] = value
                elif key[1] == "daddr":
                    f["l3_dst"] = value
                elif key[1] == "dport":
                    services.append(f"{key[0]}/{value}")
            elif isinstance(left, dict) and "meta" in left and left["meta"].get("key") in ("iifname", "oifname"):
                f[left["meta"]["key"]] = value
        elif "counter" in e and isinstance(e["counter"], dict):
            f["packet_hits"], f["byte_hits"] = int(e["counter"].get("packets", 0)), int(e["counter"].get("bytes", 0))
        elif "log" in e:
            f["log"] = "all"
        for verdict in ("accept", "drop", "reject", "jump", "goto", "return"):
            if verdict in e:
                target = e[verdict].get("target") if isinstance(e[verdict], dict) else None
                f["action"] = f"{verdict} {target}" if target else verdict
    if services:
        f["service"] = " ".join(services)
    return f


def _nft_value(v) -> str:
    if isinstance(v, dict):
        if "set" in v:
            return " ".join(_nft_value(x) for x in v["set"])
        if "prefix" in v:
            return f"{v['prefix']['addr']}/{v['prefix']['len']}"
        if "range" in v:
            return "-".join(str(x) for x in v["range"])
        return json.dumps(v, sort_keys=True)
    return str(v)


def _text(filename: str | None, config: str | None) -> str:
    if (filename is None) == (config is None):
        raise ReplaceConfigException("give exactly one of filename or config")
    if filename is not None:
        with open(filename, encoding="utf-8") as f:
            return f.read()
    return config  # type: ignore[return-value]


def unified(a: str, b: str, name_a: str, name_b: str) -> str:
    return "".join(difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                        fromfile=name_a, tofile=name_b))


def canonical_local(text: str) -> str | None:
    """The canonical form of a ruleset computed on this machine (root, throwaway netns), or None.

    Lets `dcops net diff --backup` compare a rendered ruleset with a backup like with like
    without contacting the device; None when this machine cannot (not root, no nft).
    """
    import os
    import subprocess
    import tempfile
    if os.geteuid() != 0:
        return None
    with tempfile.TemporaryDirectory(prefix="dcops-canon-") as d:
        src = os.path.join(d, "candidate.nft")
        with open(src, "w", encoding="utf-8") as f:
            f.write(text)
        script = f"cd {shlex.quote(d)} && nft -f candidate.nft && {_FIXPOINT}"
        try:
            proc = subprocess.run(["unshare", "-n", "sh", "-c", script], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return FLUSH + proc.stdout if proc.returncode == 0 else None
