"""OpenSSH server inside a namespace: own config, own host key, one authorized key."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"

CONFIG = """\
Port {port}
ListenAddress {listen}
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxStartups 200
MaxSessions 64
LogLevel ERROR
Subsystem sftp internal-sftp
"""


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public: str


def keypair(folder: Path, name: str = "id_ed25519", comment: str = "dcops-lab") -> KeyPair:
    """A throwaway ed25519 key pair (reused if it already exists in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    priv = folder / name
    if not priv.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(priv)],
                       check=True, capture_output=True)
    return KeyPair(priv, (folder / f"{name}.pub").read_text().strip())


def prepare(folder: Path, authorized_keys: list[str], *, port: int = 22, listen: str = "0.0.0.0",
            extra: str = "") -> list[str]:
    """Write config, host key and authorized_keys into `folder`; returns the sshd argv. `extra` goes first
    (sshd keeps the first value it reads: e.g. an Include of a host's own sshd_config.d)."""
    folder.mkdir(parents=True, exist_ok=True)
    hostkey = folder / "ssh_host_ed25519_key"
    if not hostkey.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey)],
                       check=True, capture_output=True)
    (folder / "authorized_keys").write_text("\n".join(authorized_keys) + "\n")
    (folder / "sshd_config").write_text((extra.rstrip() + "\n" if extra else "") + CONFIG.format(port=port, listen=listen, dir=folder))
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir sshd insists on
    return [SSHD, "-D", "-e", "-f", str(folder / "sshd_config")]
