"""The manhole: an SSH Python shell inside the running gateway, on loopback or a unix socket only.

Logins are checked against a file of ``user:password`` lines and/or a file of authorized SSH
public keys (OpenSSH ``authorized_keys`` format); the host key is created on first start and kept
in the state directory (mode 0600). The shell's namespace holds the gateway.
"""

from __future__ import annotations

import os
from ipaddress import ip_address
from typing import Any

from twisted.application import service, strports
from twisted.conch import manhole_ssh
from twisted.conch.checkers import InMemorySSHKeyDB, SSHPublicKeyChecker
from twisted.conch.manhole_tap import chainedProtocolFactory
from twisted.conch.ssh import keys
from twisted.cred import checkers, portal
from twisted.python import filepath


class ManholeError(ValueError):
    """A manhole setting that cannot be used (not loopback, unreadable file)."""


def check_loopback(endpoint: str) -> None:
    """Refuse any manhole endpoint that is not a unix socket or bound to a loopback address."""
    kind, _, rest = endpoint.partition(":")
    if kind == "unix":
        return
    if kind not in ("tcp", "tcp6"):
        raise ManholeError(f"manhole endpoint must be unix: or tcp: on loopback, not {endpoint!r}")
    params = dict(p.split("=", 1) for p in rest.split(":")[1:] if "=" in p)
    interface = params.get("interface")
    if interface is None:
        raise ManholeError("manhole endpoint needs interface=127.0.0.1 (loopback only)")
    try:
        loopback = ip_address(interface.replace("\\:", ":")).is_loopback
    except ValueError as e:
        raise ManholeError(f"manhole interface {interface!r} is not an address") from e
    if not loopback:
        raise ManholeError(f"manhole interface {interface} is not a loopback address")


def _authorized_keys(path: str) -> dict[bytes, list[Any]]:
    found: dict[bytes, list[Any]] = {}
    with open(path, "rb") as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            parts = line.split()
            user = parts[2].split(b"@")[0] if len(parts) > 2 else b"admin"
            found.setdefault(user, []).append(
                keys.Key.fromString(b" ".join(parts[:2]))
            )
    return found


def make_manhole_service(
    endpoint: str,
    namespace: dict[str, object],
    *,
    state_dir: str,
    passwords: str | None = None,
    authorized_keys: str | None = None,
) -> service.IService:
    check_loopback(endpoint)
    if passwords is None and authorized_keys is None:
        raise ManholeError("the manhole needs --manhole-passwords or --manhole-keys")
    credential_checkers: list[checkers.ICredentialsChecker] = []
    if passwords is not None:
        if not os.access(passwords, os.R_OK):
            raise ManholeError(f"cannot read manhole password file {passwords}")
        credential_checkers.append(
            checkers.FilePasswordDB(passwords)
        )
    if authorized_keys is not None:
        try:
            db = _authorized_keys(authorized_keys)
        except (OSError, keys.BadKeyError) as e:
            raise ManholeError(f"cannot read manhole keys {authorized_keys}: {e}") from e
        credential_checkers.append(SSHPublicKeyChecker(InMemorySSHKeyDB(db)))

    # twisted.conch carries no type annotations: the calls below are checked by the tests.
    realm = manhole_ssh.TerminalRealm()
    realm.chainedProtocolFactory = chainedProtocolFactory(  # type: ignore[assignment]
        namespace
    )
    factory = manhole_ssh.ConchFactory(
        portal.Portal(realm, credential_checkers)  # type: ignore[arg-type]
    )
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    key_path = filepath.FilePath(state_dir).child("manhole_host_key")
    host_key = keys._getPersistentRSAKey(key_path, 2048)
    os.chmod(key_path.path, 0o600)
    factory.publicKeys[b"ssh-rsa"] = host_key
    factory.privateKeys[b"ssh-rsa"] = host_key
    svc: service.IService = strports.service(endpoint, factory)
    return svc
