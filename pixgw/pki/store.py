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

from pixgw.files import atomic_write

__all__ = ["DEFAULT_STORE", "CaStore"]

DEFAULT_STORE = "/var/lib/pixgw/ca"
ROLES = ("ca", "ra-signature", "ra-encryption", "certificate", "crl")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
        self.key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        path = self._path(identity, role)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(path, der, 0o644)  # certificates and CRLs are public

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
