"""Bacula for real on this machine: director, storage daemon (with the disk-based virtual autochanger standing
in for the tape library) and a file daemon, each a process with its own configuration on 127.0.0.1, started
and stopped by PID. Used by the tests, the drills and the demo; never the packaged services."""
from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import DR_BARCODE_PREFIX, Deployment, TlsFiles, clients_of, dr_library, render

SCHEMA_SCRIPT = Path("/usr/share/bacula-director/make_sqlite3_tables")
DAEMONS = {"sd": "bacula-sd", "fd": "bacula-fd", "dir": "bacula-dir"}  # start order


class BaculaError(RuntimeError):
    pass


def available() -> bool:
    return all(shutil.which(x) for x in ("bacula-dir", "bacula-sd", "bacula-fd", "bconsole")) \
        and SCHEMA_SCRIPT.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listens(pid: int, port: int) -> bool:
    """Whether a socket of process `pid`'s network namespace listens on TCP `port` (/proc/PID/net/tcp)."""
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            return False
        for row in rows:
            f = row.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def barcode(prefix: str, slot: int, media_type: str) -> str:
    """LTO labels: six characters and the generation (KG0001L8)."""
    gen = re.sub(r"\D", "", media_type)
    return f"{prefix}{slot:0{6 - len(prefix)}d}L{gen or 'X'}"


def create_catalogue(db: Path) -> None:
    """The catalogue's tables from Debian's own script (the SQL between its here-document markers)."""
    text = SCHEMA_SCRIPT.read_text()
    sql = text.split("<<END-OF-DATA", 1)[1].split("\nEND-OF-DATA", 1)[0]
    with sqlite3.connect(db) as con:
        con.executescript(sql)


@dataclass
class BaculaLab:
    inv: object
    lab_paths: dict[str, list[str]]  # VM -> folders the lab's file daemon backs up for it
    scale: float = 1e-6  # a 12 TB cartridge holds 12 MB in the lab
    workdir: Path | None = None
    #: a client that does not answer fails its job after this (not Bacula's 3 minutes)
    fd_connect_timeout: str = "15 seconds"
    #: the director's resources as fragments in conf/conf.d (the Pulumi provider's layout), written by
    #: whoever declares them; bacula-dir.conf is only the director's core
    conf_d: bool = False
    #: run the daemons and bconsole inside this network namespace (a lab's control host), not the root one
    netns: str | None = None
    #: which daemons to start (a director alone talks to file daemons deployed elsewhere)
    daemons: tuple[str, ...] = ("sd", "fd", "dir")
    #: VM -> (address, port) of a file daemon run elsewhere (e.g. deployed by the bacula_fd role)
    remote_fds: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: TLS between the daemons (files of the director, storage and lab file daemon)
    tls: TlsFiles | None = None
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self):
        self._own = self.workdir is None
        self.workdir = Path(self.workdir or tempfile.mkdtemp(prefix="dcops-bacula-"))
        self.d = Deployment(self.workdir, dir_port=_free_port(), fd_port=_free_port(), sd_port=_free_port(),
                            scale=self.scale, fd_connect_timeout=self.fd_connect_timeout, tls=self.tls)
        if self.conf_d:
            self.d.conf_d = self.workdir / "conf" / "conf.d"
        self.clients = clients_of(self.inv, lab_paths=self.lab_paths, fd_port=self.d.fd_port)
        for c in self.clients:
            if c.name in self.remote_fds:
                c.address, c.port = self.remote_fds[c.name]
        self.conf = self.workdir / "conf"
        self.tape = self.inv.storage.tape
        self.dr = dr_library(self.tape, self.d)

    # -- set up
    def write(self) -> None:
        for sub in ("conf", "dir", "sd", "fd", "run", "tape", "dr-tape", "restore", "catalog"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        if self.d.conf_d:
            self.d.conf_d.mkdir(mode=0o700, exist_ok=True)
        for name, text in render(self.inv, self.d, self.clients).items():
            path = self.conf / name
            path.write_text(text, encoding="utf-8")
            path.chmod(0o600)  # passwords
        create_catalogue(self.workdir / "dir" / "bacula.db")
        t = self.tape
        self._library(self.workdir / "tape", t.slots, t.drives, t.barcode_prefix)
        self._library(self.dr.dir, self.dr.slots, 1, DR_BARCODE_PREFIX)

    def _library(self, folder: Path, slots: int, drives: int, prefix: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "changer.conf").write_text(f"maxslot={slots}\nmaxdrive={drives - 1}\n")
        for s in range(1, slots + 1):  # a cartridge in every slot: an empty file the changer loads
            (folder / f"slot{s}").touch()
        (folder / "barcodes").write_text(
            "".join(f"{s}:{barcode(prefix, s, self.tape.media_type)}\n" for s in range(1, slots + 1)))

    def check(self) -> None:
        """Each daemon's own configuration test (-t)."""
        for short, exe in self._daemons():
            proc = subprocess.run([exe, "-t", "-c", str(self.conf / f"{exe}.conf")], capture_output=True, text=True,
                                  timeout=60)
            if proc.returncode != 0:
                raise BaculaError(f"{exe} -t: {(proc.stdout + proc.stderr).strip()}")

    def start(self, timeout: float = 30, only: tuple[str, ...] = tuple(DAEMONS)) -> "BaculaLab":
        """Write, check and start the daemons (`only` some of them: a director alone answers bconsole,
        tests its configuration and reloads without a storage or file daemon)."""
        self.write()
        self.check()
        ports = {"sd": self.d.sd_port, "fd": self.d.fd_port, "dir": self.d.dir_port}
        for short, exe in self._daemons():
            if short not in only:
                continue
            with open(self.workdir / f"{short}.out", "w") as log:
                self.procs[short] = subprocess.Popen(self._in_ns([exe, "-f", "-c", str(self.conf / f"{exe}.conf")]),
                                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            self._wait_port(ports[short], short, timeout)
        return self

    def _daemons(self):
        return [(short, exe) for short, exe in DAEMONS.items() if short in self.daemons]

    def _in_ns(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def _wait_port(self, port: int, short: str, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.procs[short].poll() is not None:
                raise BaculaError(f"bacula-{short} exited: {(self.workdir / f'{short}.out').read_text()[-2000:]}")
            if short == "dir":  # a bare connect is a "Security Alert" in the director's log: ask it properly
                try:
                    if "Version:" in self.bconsole("version", timeout=5):
                        return
                except (BaculaError, subprocess.TimeoutExpired):
                    pass
            elif self.netns:  # `ip netns exec` execs in place: the daemon's own sockets, in its namespace
                if _listens(self.procs[short].pid, port):
                    return
            else:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        return
            time.sleep(0.1)
        raise BaculaError(f"bacula-{short} does not listen on 127.0.0.1:{port}")

    def stop(self) -> None:
        for short in reversed(list(self.procs)):
            p = self.procs.pop(short)
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self._own:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- use
    def bconsole(self, commands: str, timeout: float = 120) -> str:
        proc = subprocess.run(self._in_ns(["bconsole", "-n", "-c", str(self.conf / "bconsole.conf")]), input=commands + "\nquit\n",
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise BaculaError(f"bconsole: {proc.stderr.strip() or proc.stdout[-2000:]}")
        return proc.stdout

    def label_library(self, dr: bool = True) -> str:
        """Label the main library's cartridges from their barcodes (and the DR library's)."""
        t = self.tape
        # 9.6 asks for confirmation even with `yes` on the line: answer on the next one
        out = self.bconsole(f"label barcodes storage={t.name} pool=Scratch slots=1-{t.slots} drive=0\nyes")
        if dr and any(c.policy.replicate_to_dr for c in self.clients):
            out += self.bconsole(f"label barcodes storage={self.dr.name} pool=Scratch slots=1-{self.dr.slots} "
                                 "drive=0\nyes")
        return out

    def catalogue(self) -> sqlite3.Connection:
        con = sqlite3.connect(f"file:{self.workdir / 'dir' / 'bacula.db'}?mode=ro", uri=True)
        con.row_factory = sqlite3.Row
        return con
