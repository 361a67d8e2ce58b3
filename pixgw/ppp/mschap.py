"""MS-CHAP cryptographic primitives and MPPE key derivation.

Implements the algorithms of:
- RFC 2759 §8 (MS-CHAP-V2): NtPasswordHash, HashNtPasswordHash, ChallengeHash,
  GenerateNTResponse, ChallengeResponse, DesEncrypt, GenerateAuthenticatorResponse.
- RFC 2433 Appendix A (MS-CHAP-V1): NtChallengeResponse.
- RFC 3079 §2.3 (MPPE start keys from MS-CHAPv1, 128-bit) and §3.3-§3.4 (MPPE master and
  asymmetric start keys from MS-CHAPv2), §3.5/§2.4 GetNewKeyFromSHA for the initial session key.

Pure functions: no I/O, no randomness. MD4 comes from :mod:`pixgw.ppp.md4` because OpenSSL 3
does not offer it by default; DES is single DES done as 3DES with the key repeated (K1=K2=K3).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from pixgw.ppp.md4 import md4

__all__ = [
    "challenge_hash",
    "generate_authenticator_response",
    "generate_nt_response",
    "hash_nt_password_hash",
    "mppe_initial_session_key",
    "mppe_v1_keys",
    "mppe_v2_keys",
    "mschapv1_nt_response",
    "nt_password_hash",
    "strip_domain",
    "verify_authenticator_response",
]

# RFC 2759 §8.7 GenerateAuthenticatorResponse magic constants.
_AUTH_MAGIC1 = b"Magic server to client signing constant"
_AUTH_MAGIC2 = b"Pad to make it do more than one iteration"

# RFC 3079 §3.4 key derivation constants.
_MPPE_MAGIC1 = b"This is the MPPE Master Key"
_MPPE_MAGIC2 = (
    b"On the client side, this is the send key; on the server side, it is the receive key."
)
_MPPE_MAGIC3 = (
    b"On the client side, this is the receive key; on the server side, it is the send key."
)
_SHS_PAD1 = b"\x00" * 40
_SHS_PAD2 = b"\xf2" * 40


def _sha1(data: bytes) -> bytes:
    """SHA-1 digest; the algorithm is fixed by RFC 2759 / RFC 3079, not our choice."""
    return hashlib.sha1(data).digest()  # noqa: S324 - protocol-mandated


def strip_domain(username: str) -> str:
    """RFC 2759 §8.2: drop a leading ``DOMAIN\\`` from the user name for ChallengeHash."""
    _, sep, user = username.rpartition("\\")
    return user if sep else username


def nt_password_hash(password: str) -> bytes:
    """RFC 2759 §8.3 NtPasswordHash: MD4 of the UTF-16LE password (16 bytes)."""
    return md4(password.encode("utf-16-le"))


def hash_nt_password_hash(password_hash: bytes) -> bytes:
    """RFC 2759 §8.4 HashNtPasswordHash: MD4 of the 16-byte NT password hash."""
    return md4(password_hash)


def challenge_hash(
    peer_challenge: bytes, authenticator_challenge: bytes, username: str
) -> bytes:
    """RFC 2759 §8.2 ChallengeHash: first 8 bytes of SHA1(peer || authenticator || user)."""
    user = strip_domain(username).encode("utf-8")
    return _sha1(peer_challenge + authenticator_challenge + user)[:8]


def _des_key(key7: bytes) -> bytes:
    """RFC 2759 §8.6: spread 56 key bits over 8 bytes (the low bit of each is parity, unused)."""
    bits = int.from_bytes(key7, "big")
    return bytes(((bits >> (49 - 7 * i)) & 0x7F) << 1 for i in range(8))


def _des_encrypt(clear: bytes, key7: bytes) -> bytes:
    """RFC 2759 §8.6 DesEncrypt: one DES-ECB block with a 7-byte key."""
    key = _des_key(key7)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # noqa: S305 - one block
    return encryptor.update(clear) + encryptor.finalize()


def _challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """RFC 2759 §8.5 ChallengeResponse: three DES blocks keyed by the zero-padded hash."""
    z = password_hash.ljust(21, b"\x00")
    return b"".join(_des_encrypt(challenge, z[i : i + 7]) for i in (0, 7, 14))


def generate_nt_response(
    authenticator_challenge: bytes, peer_challenge: bytes, username: str, password_hash: bytes
) -> bytes:
    """RFC 2759 §8.1 GenerateNTResponse (24 bytes), from the NT password hash."""
    return _challenge_response(
        challenge_hash(peer_challenge, authenticator_challenge, username), password_hash
    )


def generate_authenticator_response(
    password_hash: bytes,
    nt_response: bytes,
    peer_challenge: bytes,
    authenticator_challenge: bytes,
    username: str,
) -> str:
    """RFC 2759 §8.7 GenerateAuthenticatorResponse: ``"S="`` + 40 upper-case hex digits."""
    hash_hash = hash_nt_password_hash(password_hash)
    digest = _sha1(hash_hash + nt_response + _AUTH_MAGIC1)
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    digest = _sha1(digest + challenge + _AUTH_MAGIC2)
    return "S=" + digest.hex().upper()


def verify_authenticator_response(expected: str, received: str) -> bool:
    """RFC 2759 §8.8 CheckAuthenticatorResponse, in constant time (case of hex ignored)."""
    return hmac.compare_digest(expected.upper().encode(), received.upper().encode())


def mschapv1_nt_response(challenge: bytes, password_hash: bytes) -> bytes:
    """RFC 2433 Appendix A.5 NtChallengeResponse (24 bytes) for the 8-byte challenge."""
    return _challenge_response(challenge, password_hash)


def _master_key(password_hash: bytes, nt_response: bytes) -> bytes:
    """RFC 3079 §3.4 GetMasterKey."""
    hash_hash = hash_nt_password_hash(password_hash)
    return _sha1(hash_hash + nt_response + _MPPE_MAGIC1)[:16]


def _asymmetric_start_key(
    master_key: bytes, key_length: int, *, is_send: bool, is_server: bool
) -> bytes:
    """RFC 3079 §3.4 GetAsymmetricStartKey."""
    magic = _MPPE_MAGIC3 if is_send == is_server else _MPPE_MAGIC2
    return _sha1(master_key + _SHS_PAD1 + magic + _SHS_PAD2)[:key_length]


def _check_length(key_length: int) -> None:
    if key_length not in (8, 16):
        raise ValueError("MPPE key length must be 8 (40/56-bit) or 16 (128-bit)")


def mppe_v2_keys(
    password_hash: bytes, nt_response: bytes, key_length: int = 16
) -> tuple[bytes, bytes]:
    """RFC 3079 §3.3-§3.4 for MS-CHAPv2: (server send start key, server receive start key).

    These are the MasterSendKey/MasterReceiveKey that RADIUS carries as MS-MPPE-Send-Key and
    MS-MPPE-Recv-Key (RFC 2548 §2.4.2/§2.4.3) on the authenticator side.
    """
    _check_length(key_length)
    master = _master_key(password_hash, nt_response)
    send = _asymmetric_start_key(master, key_length, is_send=True, is_server=True)
    receive = _asymmetric_start_key(master, key_length, is_send=False, is_server=True)
    return send, receive


def mppe_v1_keys(
    password_hash: bytes, challenge: bytes, key_length: int = 16
) -> tuple[bytes, bytes]:
    """RFC 3079 §2.4 GetStartKey for MS-CHAPv1 from the NT hash: (send key, receive key).

    MS-CHAPv1 keys are symmetric, so both are the same. RFC 3079 §2.1/§2.2 derive 40/56-bit
    keys from the LAN Manager hash, which a gateway storing only NT hashes does not have; for
    ``key_length=8`` this returns the first 8 bytes of the NT-derived key, as pppd does.
    """
    _check_length(key_length)
    hash_hash = hash_nt_password_hash(password_hash)
    key = _sha1(hash_hash + hash_hash + challenge)[:key_length]
    return key, key


def mppe_initial_session_key(start_key: bytes) -> bytes:
    """RFC 3079 §3.5 / §2.4 GetNewKeyFromSHA(StartKey, StartKey): the first session key.

    For 8-byte (40/56-bit) keys the caller applies the RFC 3079 §2.1/§2.2 salt bytes.
    """
    length = len(start_key)
    return _sha1(start_key + _SHS_PAD1 + start_key + _SHS_PAD2)[:length]
