"""Where keys and certificates live across restarts (``ca generate rsa key``, ``ca save all``):
one directory, PEM files written atomically (temporary file, fsync, rename, fsync of the
directory), private keys mode 0600 (RFC 5958 PKCS#8 PEM, RFC 5280 certificates and CRLs as DER).

Layout: ``rsa-key.pem``; per identity NAME: ``NAME/ca.der``, ``NAME/ra-signature.der``,
``NAME/ra-encryption.der``, ``NAME/certificate.der``, ``NAME/crl.der``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = ["DEFAULT_STORE", "CaStore", "atomic_write"]

DEFAULT_STORE = "/var/lib/pixgw/ca"
ROLES = ("ca", "ra-signature", "ra-encryption", "certificate", "crl")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write *data* to *path* so that a crash leaves the old or the new file, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class CaStore:
    """Keys and certificates of the ``ca`` commands in one directory."""

    def __init__(self, directory: str | os.PathLike[str] = DEFAULT_STORE) -> None:
        self.directory = Path(directory)

    @property
    def key_path(self) -> Path:
        return self.directory / "rsa-key.pem"

    def save_key(self, key: RSAPrivateKey) -> None:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(self.key_path, pem, 0o600)

    def load_key(self) -> RSAPrivateKey | None:
        try:
            pem = self.key_path.read_bytes()
        except FileNotFoundError:
            return None
        key = serialization.load_pem_private_key(pem, password=None)
        return key if isinstance(key, RSAPrivateKey) else None

    def _path(self, identity: str, role: str) -> Path:
        if not _NAME.match(identity) or role not in ROLES:
            raise ValueError(f"bad identity or role {identity!r}/{role!r}")
        return self.directory / identity / f"{role}.der"

    def save(self, identity: str, role: str, der: bytes) -> None:
        atomic_write(self._path(identity, role), der)

    def load(self, identity: str, role: str) -> bytes | None:
        try:
            return self._path(identity, role).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, identity: str, role: str) -> None:
        self._path(identity, role).unlink(missing_ok=True)

    def remove_identity(self, identity: str) -> None:
        self._path(identity, "ca")
        shutil.rmtree(self.directory / identity, ignore_errors=True)
