"""PKCS#7/CMS pieces SCEP is built on, pure (no I/O): ContentInfo (RFC 5652 §3) read within a
bound, the degenerate certificates-only SignedData (RFC 5652 §5, RFC 8894 §3.4) both ways, and
EnvelopedData with RSA key transport (RFC 5652 §6, DES/3DES/AES-CBC content encryption), both
ways; certificates from the wire parsed whole at once. Every parser raises only
:class:`Pkcs7Error` on bad input (SCEP's :class:`~pixgw.pki.scep.ScepError` is the same class).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asn1crypto import cms, core, parser
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as apadding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "MAX_MESSAGE",
    "Pkcs7Error",
    "certs_only",
    "envelope",
    "load_certificate",
    "load_content_info",
    "open_envelope",
    "parse_certs_only",
]

MAX_MESSAGE = 256 * 1024  # bound on any PKCS#7 message we parse


class Pkcs7Error(Exception):
    """Bad PKCS#7/CMS input; ``str()`` says what."""


def load_certificate(der: bytes) -> x509.Certificate:
    """A DER certificate from the wire, every field we use parsed now (cryptography parses
    lazily: a bad issuer would otherwise raise later, far from here). Raises Pkcs7Error."""
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.serial_number, cert.public_key())
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, list(cert.extensions))
        _ = (cert.subject.public_bytes(), cert.issuer.public_bytes())
    except Exception as exc:  # InvalidVersion, UnsupportedAlgorithm, ValueError, ...
        raise Pkcs7Error(f"bad certificate ({exc})") from None
    return cert


def load_content_info(der: bytes) -> cms.ContentInfo:
    if len(der) > MAX_MESSAGE:
        raise Pkcs7Error("message too long")
    try:
        info = cms.ContentInfo.load(der, strict=True)
        _ = info["content_type"].native
        _ = info["content"]
        return info
    except (ValueError, TypeError, KeyError) as exc:
        raise Pkcs7Error(f"Invalid format for BER encoding ({exc})") from None


def parse_certs_only(der: bytes) -> tuple[x509.Certificate, ...]:
    """The certificates of a degenerate certificates-only SignedData (RFC 8894 §3.4)."""
    info = load_content_info(der)
    if info["content_type"].native != "signed_data":
        raise Pkcs7Error("not a PKCS#7 SignedData")
    try:
        choices = info["content"]["certificates"]
        out = []
        for choice in choices or ():
            if choice.name != "certificate":
                continue
            out.append(load_certificate(choice.chosen.dump()))
    except (ValueError, TypeError, KeyError) as exc:
        raise Pkcs7Error(f"bad certificate in SignedData ({exc})") from None
    if not out:
        raise Pkcs7Error("no certificate in SignedData")
    return tuple(out)


def certs_only(certs: Sequence[x509.Certificate]) -> bytes:
    """A degenerate certificates-only SignedData (what GetCACert answers in RA mode)."""
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data"},
            "certificates": [
                ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs
            ],
            "signer_infos": [],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


# --- EnvelopedData (RFC 5652 §6) ----------------------------------------------------------------

_CIPHERS: dict[str, tuple[str, int, int]] = {
    # name: (asn1crypto algorithm, key length, block/iv length)
    "des": ("des", 8, 8),
    "des3": ("tripledes_3key", 24, 8),
    "aes128": ("aes128_cbc", 16, 16),
    "aes192": ("aes192_cbc", 24, 16),
    "aes256": ("aes256_cbc", 32, 16),
}


def _cipher(name: str, key: bytes, iv: bytes) -> Cipher[modes.CBC]:
    if name in ("des", "tripledes"):
        if len(key) == 8:
            key = key * 3  # single DES as 3DES with K1 = K2 = K3
        return Cipher(TripleDES(key), modes.CBC(iv))
    return Cipher(algorithms.AES(key), modes.CBC(iv))


def envelope(
    content: bytes,
    recipient: x509.Certificate,
    cipher: str,
    random_bytes: Callable[[int], bytes],
) -> bytes:
    """EnvelopedData ContentInfo: *content* encrypted with a fresh key, that key RSA
    PKCS#1 v1.5-transported to *recipient* (RFC 8894 §3.2.2)."""
    alg, klen, blen = _CIPHERS[cipher]
    key = random_bytes(klen)
    iv = random_bytes(blen)
    padder = padding.PKCS7(blen * 8).padder()
    padded = padder.update(content) + padder.finalize()
    enc = _cipher("des" if cipher in ("des", "des3") else "aes", key, iv).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    pub = recipient.public_key()
    if not isinstance(pub, RSAPublicKey):
        raise Pkcs7Error("recipient certificate has no RSA key")
    wrapped = pub.encrypt(key, apadding.PKCS1v15())
    rcert = ax509.Certificate.load(recipient.public_bytes(serialization.Encoding.DER))
    enveloped = cms.EnvelopedData(
        {
            "version": "v0",
            "recipient_infos": [
                cms.RecipientInfo(
                    name="ktri",
                    value=cms.KeyTransRecipientInfo(
                        {
                            "version": "v0",
                            "rid": cms.RecipientIdentifier(
                                name="issuer_and_serial_number",
                                value=cms.IssuerAndSerialNumber(
                                    {
                                        "issuer": rcert.issuer,
                                        "serial_number": rcert.serial_number,
                                    }
                                ),
                            ),
                            "key_encryption_algorithm": {"algorithm": "rsaes_pkcs1v15"},
                            "encrypted_key": wrapped,
                        }
                    ),
                )
            ],
            "encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {
                    "algorithm": alg,
                    "parameters": core.OctetString(iv),
                },
                "encrypted_content": ciphertext,
            },
        }
    )
    return bytes(cms.ContentInfo({"content_type": "enveloped_data", "content": enveloped}).dump())


def _ber_octets(contents: bytes, constructed: bool, depth: int = 0) -> bytes:
    """The bytes of an OCTET STRING, primitive or BER-constructed (chunks of OCTET STRINGs, as
    Go's pkcs7, hence micromdm's scepserver, sends encryptedContent)."""
    if not constructed:
        return contents
    if depth > 4:
        raise Pkcs7Error("OCTET STRING nested too deeply")
    out = bytearray()
    pointer = 0
    while pointer < len(contents):
        info, pointer = parser._parse(contents, len(contents), pointer)
        _cls, method, _tag, _header, body, _trailer = info
        out += _ber_octets(body, method == 1, depth + 1)
    return bytes(out)


def _encrypted_content(eci: cms.EncryptedContentInfo) -> bytes:
    pointer = 0
    contents = eci.contents
    while pointer < len(contents):
        info, pointer = parser._parse(contents, len(contents), pointer)
        cls, method, tag, _header, body, _trailer = info
        if cls == 2 and tag == 0:  # [0] IMPLICIT encryptedContent
            return _ber_octets(body, method == 1)
    return b""


def open_envelope(der: bytes, key: RSAPrivateKey) -> bytes:
    """Decrypt an EnvelopedData ContentInfo with our key: DES, 3DES or AES-CBC content
    encryption (micromdm's scepserver answers in single DES)."""
    info = load_content_info(der)
    if info["content_type"].native != "enveloped_data":
        raise Pkcs7Error("pkcsPKIEnvelope is not EnvelopedData")
    try:
        env = info["content"]
        eci = env["encrypted_content_info"]
        alg = eci["content_encryption_algorithm"]
        cipher_name = alg.encryption_cipher
        iv = alg.encryption_iv
        ciphertext = _encrypted_content(eci)
        wrapped_keys = [
            ri.chosen["encrypted_key"].native
            for ri in env["recipient_infos"]
            if ri.name == "ktri"
        ]
    except (ValueError, TypeError, KeyError) as exc:
        raise Pkcs7Error(f"bad EnvelopedData ({exc})") from None
    if cipher_name not in ("des", "tripledes", "aes"):
        raise Pkcs7Error(f"unsupported envelope cipher {cipher_name}")
    for wrapped in wrapped_keys:
        try:
            ckey = key.decrypt(wrapped, apadding.PKCS1v15())
        except ValueError:
            continue
        try:
            dec = _cipher(cipher_name, ckey, iv).decryptor()
            padded = dec.update(ciphertext) + dec.finalize()
            blen = 8 if cipher_name != "aes" else 16
            unpadder = padding.PKCS7(blen * 8).unpadder()
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            continue
    raise Pkcs7Error("cannot decrypt the pkcsPKIEnvelope with our key")


