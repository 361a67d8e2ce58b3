"""IKE main mode with rsa-sig, the responder's certificates coming from pixgw.pki: the gateway
enrolls with the NDES emulator (SCEP, RA mode, through StubTreq), the client holds a certificate
from the same CA; the client is served, then refused once a CRL revokes its certificate, and
refused without a CRL when ``crloptional`` is off."""

from __future__ import annotations

import time
from ipaddress import IPv4Address

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from twisted.internet import task

from pixgw.config.model import IsakmpPolicy
from pixgw.ike import constants as c
from pixgw.testing.ike_initiator import InitiatorProfile, Phase1Offer
from tests.interop.ndes import NdesEmulator, cached_key, ku, make_cert
from tests.protocol.ike_harness import CLIENT, captured_logs, main_mode, make_pair, pix_config
from tests.protocol.test_pki_commands import _exec
from tests.protocol.test_scep_ndes import _result

SERIAL = 0x5EED


def _setup(tmp_path, crl_optional: bool):  # type: ignore[no-untyped-def]
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock(), crl_optional=crl_optional)
    pki.generate_rsa_key(1024)
    _result(pki.authenticate("sjvpn"))
    out = _result(pki.enroll("sjvpn", ndes.challenge))
    assert out[-1] == "The certificate has been granted by CA!"
    client = make_cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "client")]), cached_key(12),
        ndes.ca_cert.subject, ndes.ca_key, SERIAL, key_usage=ku(sign=True, encipher=True),
        san=[x509.IPAddress(IPv4Address(CLIENT))],
    )
    profile = InitiatorProfile(
        phase1=(Phase1Offer(c.ENC_AES, 256, c.HASH_SHA, c.AUTH_RSA_SIG, 14),),
        chain=(client.public_bytes(serialization.Encoding.DER),),
        key=cached_key(12),
    )
    config = pix_config(policies=(IsakmpPolicy(10, "rsa-sig", "aes-256", "sha", 14),))
    return ndes, pki, profile, config


def _attempt(pki, profile, config) -> bool:  # type: ignore[no-untyped-def]
    path = make_pair(config, profile, certificates=pki.source)
    try:
        main_mode(path, time.time())
    except AssertionError:
        return False
    return True


def test_enrolled_gateway_serves_a_client_of_the_same_ca_then_refuses_it_revoked(tmp_path) -> None:
    ndes, pki, profile, config = _setup(tmp_path, crl_optional=True)
    with captured_logs():
        assert _attempt(pki, profile, config)  # no CRL yet: crloptional, with the warning
    assert _result(pki.crl_request("sjvpn")) == []
    assert _attempt(pki, profile, config)  # CRL, not revoked
    ndes.revoked.add(SERIAL)
    assert _result(pki.crl_request("sjvpn")) == []
    with captured_logs() as logs:
        assert not _attempt(pki, profile, config)
    assert any("phase 1 authentication failed" in line for line in logs), logs


def test_no_crl_without_crloptional_refused(tmp_path) -> None:
    _ndes, pki, profile, config = _setup(tmp_path, crl_optional=False)
    with captured_logs():
        assert not _attempt(pki, profile, config)
    assert _result(pki.crl_request("sjvpn")) == []
    assert _attempt(pki, profile, config)
