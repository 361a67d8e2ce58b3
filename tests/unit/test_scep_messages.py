"""SCEP messages (pixgw.pki.scep): the golden GetCACert vector (three certificates), GetCACaps,
a PKCSReq decrypted and verified independently (openssl cms, asn1crypto), envelopes in DES, 3DES
and AES both ways, CertRep checks (signature, nonce, transaction ID, failure words), hostile
input raising only ScepError."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pixgw.pki import pkcs7, scep
from tests.interop.ndes import NdesEmulator, cached_key

VECTORS = Path(__file__).parent.parent / "vectors" / "pki"


def test_golden_getcacert_three_certificates() -> None:
    body = (VECTORS / "getcacert-ndes-ra.der").read_bytes()
    assert len(body) == 2442
    cas = scep.parse_ca_certificates("application/x-x509-ca-ra-cert", body)
    assert cas.ra_mode
    assert cas.ca.serial_number == 0x1102485095CBF8B3
    assert cas.ra_signature is not None and cas.ra_signature.serial_number == 0x0347DC82000000000002
    assert cas.ra_encryption is not None
    assert cas.ra_encryption.serial_number == 0x0347DF0D000000000003
    assert cas.encryption_cert is cas.ra_encryption
    assert cas.signer_certs[0] is cas.ra_signature
    assert scep.ca_fingerprint(cas.ca) == "ad2a85a2 cc7af01c c6ff2cce 169c5651"
    assert scep.ca_fingerprint(cas.ra_signature) == "2577e43d 7a45631c f1d425c1 e609f551"
    assert scep.ca_fingerprint(cas.ra_encryption) == "5f819410 32ae471b e194bdb8 aed6b82e"
    # annotated offsets: the certificates start at 45, 843 and 1641
    assert body[45:49] == bytes.fromhex("3082031a") and body[843:847] == bytes.fromhex("3082031a")
    assert body[1641:1645] == bytes.fromhex("3082031b")
    # encode: the same three certificates give the same bytes
    assert pkcs7.certs_only([cas.ra_signature, cas.ra_encryption, cas.ca]) == body


def test_single_der_ca_cert_is_ca_mode() -> None:
    ndes = NdesEmulator(ra_mode=False)
    ctype, body = ndes.get_ca_cert()
    cas = scep.parse_ca_certificates(ctype, body)
    assert cas.ca == ndes.ca_cert and not cas.ra_mode and cas.encryption_cert == ndes.ca_cert


@pytest.mark.parametrize(
    "body",
    [b"", b"\x30", b"\x30\x80\x00\x00", b"garbage" * 10, b"\x30\x03\x02\x01\x00", b"\xff" * 300000],
)
def test_hostile_getcacert_raises_scep_error(body: bytes) -> None:
    for ctype in ("application/x-x509-ca-ra-cert", "application/x-x509-ca-cert"):
        with pytest.raises(scep.ScepError):
            scep.parse_ca_certificates(ctype, body)


def test_ca_caps() -> None:
    caps = scep.parse_ca_caps(b"POSTPKIOperation\r\nRenewal\nSHA-1\nDES3\n")
    assert caps.post and caps.digest == "sha1" and caps.cipher == "des3"
    new = scep.parse_ca_caps(b"SCEPStandard\nAES\nSHA-256\n")
    assert new.post and new.digest == "sha256" and new.cipher == "aes128"
    old = scep.parse_ca_caps(b"")
    assert not old.post and old.digest == "sha1" and old.cipher == "des"


@pytest.mark.parametrize("cipher", ["des", "des3", "aes128", "aes256"])
def test_envelope_round_trip(cipher: str) -> None:
    ndes = NdesEmulator()
    env = pkcs7.envelope(b"hello pkcs#7" * 7, ndes.ra_enc_cert, cipher, os.urandom)
    assert pkcs7.open_envelope(env, ndes.ra_enc_key) == b"hello pkcs#7" * 7
    with pytest.raises(scep.ScepError):
        pkcs7.open_envelope(env, ndes.ra_sig_key)


def _pkcs_req(ndes: NdesEmulator) -> tuple[scep.ScepRequest, bytes]:
    key = cached_key(10)
    csr = scep.build_csr(key, "PIX-506-2.sjvpn.com", "secret-challenge", "480430455", "192.0.2.1")
    signer = scep.build_self_signed(key, x509.load_der_x509_csr(csr).subject, 7, 1.7e9)
    ctype, body = ndes.get_ca_cert()
    cas = scep.parse_ca_certificates(ctype, body)
    caps = scep.parse_ca_caps(ndes.caps)
    return scep.build_pkcs_req(csr, key, signer, cas, caps, os.urandom), csr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_pkcs_req_verified_and_decrypted_by_openssl(tmp_path: Path) -> None:
    ndes = NdesEmulator()
    req, csr = _pkcs_req(ndes)
    (tmp_path / "req.der").write_bytes(req.message)
    (tmp_path / "ra.pem").write_bytes(ndes.ra_enc_cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "ra.key").write_bytes(
        ndes.ra_enc_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    # 1. the signature (by the self-signed certificate carried in the message)
    subprocess.run(
        ["openssl", "cms", "-verify", "-noverify", "-inform", "DER", "-in", "req.der",
         "-out", "env.der", "-binary"], cwd=tmp_path, check=True, capture_output=True,
    )
    # 2. the envelope, to the RA *encryption* certificate
    subprocess.run(
        ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", "env.der", "-recip", "ra.pem",
         "-inkey", "ra.key", "-out", "csr.der", "-binary"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    assert (tmp_path / "csr.der").read_bytes() == csr
    out = subprocess.run(
        ["openssl", "req", "-inform", "DER", "-in", "csr.der", "-verify", "-noout", "-text"],
        cwd=tmp_path, check=True, capture_output=True, text=True,
    )
    assert "challengePassword" in out.stdout and "secret-challenge" in out.stdout
    assert "PIX-506-2.sjvpn.com" in out.stdout and "480430455" in out.stdout


def test_pkcs_req_attributes_read_independently() -> None:
    ndes = NdesEmulator()
    req, _csr = _pkcs_req(ndes)
    signed = cms.ContentInfo.load(req.message)["content"]
    attrs = {a["type"].dotted: a["values"][0] for a in signed["signer_infos"][0]["signed_attrs"]}
    assert attrs[scep.OID_MESSAGE_TYPE].dump() == bytes.fromhex("13023139")  # "19" PKCSReq
    assert attrs[scep.OID_TRANSACTION_ID].native == req.transaction_id
    assert attrs[scep.OID_SENDER_NONCE].native == req.sender_nonce
    assert len(req.sender_nonce) == 16
    assert signed["digest_algorithms"][0]["algorithm"].native == "sha256"
    env = cms.ContentInfo.load(signed["encap_content_info"]["content"].native)
    ri = env["content"]["recipient_infos"][0].chosen
    assert ri["rid"].chosen["serial_number"].native == ndes.ra_enc_cert.serial_number
    assert env["content"]["encrypted_content_info"]["content_encryption_algorithm"][
        "algorithm"
    ].native == "aes128_cbc"


def test_cert_rep_checks() -> None:
    ndes = NdesEmulator(challenge="secret-challenge")
    req, _csr = _pkcs_req(ndes)
    cas = scep.parse_ca_certificates(*ndes.get_ca_cert())
    answer = ndes.pki_operation(req.message)
    rep = scep.parse_cert_rep(answer, req, cas, cached_key(10))
    assert rep.status is scep.PkiStatus.SUCCESS and rep.certificates[0] == ndes.issued[0]
    # another request's nonce: refused
    other = scep.ScepRequest(req.message, req.transaction_id, b"\x00" * 16, req.message_type)
    with pytest.raises(scep.ScepError, match="recipientNonce"):
        scep.parse_cert_rep(answer, other, cas, cached_key(10))
    wrong_tid = scep.ScepRequest(req.message, "0" * 32, req.sender_nonce, req.message_type)
    with pytest.raises(scep.ScepError, match="transactionID"):
        scep.parse_cert_rep(answer, wrong_tid, cas, cached_key(10))
    # signed by someone the CA did not certify: refused
    stranger = NdesEmulator(
        challenge="secret-challenge", ca_key=cached_key(4), ra_sig_key=cached_key(5)
    )
    with pytest.raises(scep.ScepError, match=r"signer|signature"):
        scep.parse_cert_rep(stranger.pki_operation(req.message), req, cas, cached_key(10))
    # one flipped byte anywhere: ScepError, never anything else
    for i in range(0, len(answer), max(1, len(answer) // 60)):
        bad = bytearray(answer)
        bad[i] ^= 0x41
        with contextlib.suppress(scep.ScepError):
            scep.parse_cert_rep(bytes(bad), req, cas, cached_key(10))


def test_failure_words() -> None:
    assert [f.word for f in scep.FailInfo] == [
        "badAlg", "badMessageCheck", "badRequest", "badTime", "badCertId",
    ]
    ndes = NdesEmulator(challenge="other")
    req, _csr = _pkcs_req(ndes)
    cas = scep.parse_ca_certificates(*ndes.get_ca_cert())
    rep = scep.parse_cert_rep(ndes.pki_operation(req.message), req, cas, cached_key(10))
    assert rep.status is scep.PkiStatus.FAILURE and rep.fail_word == "badRequest"


def test_request_fingerprint_format() -> None:
    fp = scep.request_fingerprint(b"abc")
    assert fp == "90015098 3cd24fb0 d6963f7d 28e17f72"


def test_one_general_purpose_ra_certificate_plays_both_roles() -> None:
    from tests.interop.ndes import ku, make_cert

    ndes = NdesEmulator()
    ra = make_cert(
        ndes.ra_sig_cert.subject, cached_key(5), ndes.ca_cert.subject, ndes.ca_key, 9,
        key_usage=ku(sign=True, encipher=True),
    )
    cas = scep.parse_ca_certificates(
        "application/x-x509-ca-ra-cert", pkcs7.certs_only([ndes.ca_cert, ra])
    )
    assert cas.ra_signature == ra and cas.ra_encryption == ra and cas.ca == ndes.ca_cert
