"""The ``ca`` exec commands (pixgw.pki.commands.CaExec) against the NDES emulator through
StubTreq, the store across a restart, and the ``show crypto ca`` / ``show ca mypubkey rsa``
renders of what they made."""

from __future__ import annotations

import datetime as dt
import os
import stat

from cryptography.hazmat.primitives import serialization
from treq.testing import StubTreq
from twisted.internet import task

from pixgw import syslog
from pixgw.cli.ca import render_ca_certificates, render_mypubkey_rsa
from pixgw.config.model import Ca, CaConfigure, CaIdentity
from pixgw.ike.certauth import PeerIdentity
from pixgw.pki import scep
from pixgw.pki.commands import CaExec
from pixgw.pki.mscep import ScepCertificateAuthority
from pixgw.pki.store import CaStore
from tests.interop.ndes import NdesEmulator, NdesResource, cached_key
from tests.protocol.test_scep_ndes import DebugLines, _result

IDENT = CaIdentity("sjvpn", "171.68.9.149", "/certsrv/mscep/mscep.dll")


def _exec(tmp_path, ndes: NdesEmulator, clock: task.Clock, crl_optional: bool = True) -> CaExec:
    conf = Ca(
        identities=(IDENT,),
        configures=(CaConfigure("sjvpn", "ra", 1, 20, crl_optional),),
        store=str(tmp_path / "ca"),
    )

    def factory(ident, configure):
        return ScepCertificateAuthority(
            ident.name, ident.url, configure.mode, configure.retry_period * 60.0,
            configure.retry_count, http=StubTreq(NdesResource(ndes)), clock=clock,
        )

    return CaExec(
        conf, "PIX-506-2.sjvpn.com", authority_for=factory, serial="480430455",
        generate_key=lambda bits: cached_key(10), now=lambda: 1_000_000_000.0,
    )


def test_full_flow_pending_granted_show_and_restart(tmp_path) -> None:
    ndes = NdesEmulator(pending=True)
    clock = task.Clock()
    pki = _exec(tmp_path, ndes, clock)
    assert pki.generate_rsa_key(1024)[-1] == "Success."
    lines = _result(pki.authenticate("sjvpn"))
    assert lines == [
        "Certificate has the following attributes:",
        f"Fingerprint: {scep.ca_fingerprint(ndes.ca_cert)}",
    ]
    emitted: list[str] = []
    seen = DebugLines()
    syslog.add_observer(seen)
    try:
        d = pki.enroll("sjvpn", "ndes-challenge", serial=True, emit=emitted.append)
        assert emitted[:2] == [
            "% Start certificate enrollment ..",
            "% The subject name in the certificate will be: PIX-506-2.sjvpn.com",
        ]
        assert emitted[-1].startswith("Fingerprint: ") and len(emitted[-1].split()) == 5
        assert pki.identities["sjvpn"].pending
        assert render_ca_certificates(pki.snapshot()).startswith(
            "Certificate\n  Status: Pending\n  Key Usage: General Purpose\n"
            f"  {emitted[-1]}\n\nRA Signature Certificate\n"
        )
        clock.advance(60)
        ndes.approve_all()
        clock.advance(60)
    finally:
        syslog.remove_observer(seen)
    out = _result(d)
    assert out[-1] == "The certificate has been granted by CA!", out
    assert "ndes-challenge" not in "".join(out + seen.lines)
    text = render_ca_certificates(pki.snapshot())
    assert text.startswith("Certificate\n  Status: Available\n  Certificate Serial Number: ")
    assert "  Key Usage: General Purpose\n  Subject Name\n    Name: PIX-506-2.sjvpn.com\n" in text
    assert "\nRA Signature Certificate\n" in text and "\nRA KeyEncipher Certificate\n" in text
    assert "\nCA Certificate\n  Status: Available\n" in text
    assert "  CN = pixgw test CA\n   O = pixgw tests\n   C = US\n" in text
    assert text.index("RA Signature") < text.index("CA Certificate") < text.index("RA KeyEnc")
    # the IKE source now has our chain and key, and trusts the CA
    assert pki.source.own_chain()[0] == ndes.issued[0].public_bytes(serialization.Encoding.DER)
    assert pki.source.ca_subjects() == (ndes.ca_cert.subject.public_bytes(),)
    # ca save all, then a new process reads it back
    assert pki.save_all() == []
    store = CaStore(tmp_path / "ca")
    assert stat.S_IMODE(os.stat(store.key_path).st_mode) == 0o600
    again = _exec(tmp_path, ndes, clock)
    again.load()
    assert render_ca_certificates(again.snapshot()) == text
    assert again.source.own_chain() == pki.source.own_chain()
    assert again.key is not None
    assert again.key.private_numbers() == pki.key.private_numbers()


def test_authenticate_refuses_wrong_fingerprint(tmp_path) -> None:
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock())
    lines = _result(pki.authenticate("sjvpn", "49dc7b2a cd5fc573 6c774840 e58cf178"))
    assert lines[-1] == "% Error in verifying the received fingerprint."
    assert "sjvpn" not in pki.identities or pki.identities["sjvpn"].cas is None
    good = scep.ca_fingerprint(ndes.ca_cert)
    assert _result(pki.authenticate("sjvpn", good))[-1] == f"Fingerprint: {good}"


def test_enroll_wrong_challenge_and_unreachable(tmp_path) -> None:
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock())
    pki.generate_rsa_key(1024)
    _result(pki.authenticate("sjvpn"))
    out = _result(pki.enroll("sjvpn", "wrong"))
    assert out[-1] == "%Error: the CA refused the certificate request: badRequest"
    assert pki.identities["sjvpn"].certificate is None


def test_crl_request_then_revoked_peer_refused(tmp_path) -> None:
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock(), crl_optional=False)
    pki.generate_rsa_key(1024)
    _result(pki.authenticate("sjvpn"))
    _result(pki.enroll("sjvpn", "ndes-challenge"))
    peer = ndes.issued[0]  # any certificate the CA issued will do as "the peer's"
    der = peer.public_bytes(serialization.Encoding.DER)
    who = PeerIdentity(2, b"PIX-506-2.sjvpn.com")
    now = dt.datetime.now(dt.UTC)
    assert not pki.source.verify_peer([der], who, now).accepted  # no CRL, no crloptional
    assert _result(pki.crl_request("sjvpn")) == []
    assert pki.source.verify_peer([der], who, now).accepted
    ndes.revoked.add(peer.serial_number)
    assert _result(pki.crl_request("sjvpn")) == []
    v = pki.source.verify_peer([der], who, now)
    assert not v.accepted and v.reason == "certificate revoked"


def test_no_ca_identity_forgets(tmp_path) -> None:
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock())
    _result(pki.authenticate("sjvpn"))
    pki.save_all()
    assert (tmp_path / "ca" / "sjvpn" / "ca.der").exists()
    assert pki.no_identity("sjvpn") == []
    assert pki.snapshot().certificates == ()
    assert not (tmp_path / "ca" / "sjvpn").exists()


def test_mypubkey_render(tmp_path) -> None:
    pki = _exec(tmp_path, NdesEmulator(), task.Clock())
    assert render_mypubkey_rsa(pki.snapshot().key) == ""
    pki.generate_rsa_key(1024)
    text = render_mypubkey_rsa(pki.snapshot().key)
    lines = text.splitlines()
    assert lines[0] == "% Key pair was generated at: 01:46:40 Sep 9 2001"
    assert lines[1:4] == [
        "Key name: PIX-506-2.sjvpn.com", " Usage: General Purpose Key", " Key Data:"
    ]
    spki = cached_key(10).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert bytes.fromhex("".join(lines[4:]).replace(" ", "")) == spki
    assert all(len(line.split()) <= 8 for line in lines[4:])


def test_cdp_crl_fetched_after_a_miss(tmp_path) -> None:
    """A peer certificate names a CDP; with no CRL cached the verdict is 'unknown' and the URL
    is noted; refresh_crls fetches it (StubTreq) and the revoked peer is then refused."""
    from twisted.web.resource import Resource
    from twisted.web.static import Data

    from tests.interop.ndes import make_cert

    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock(), crl_optional=True)
    _result(pki.authenticate("sjvpn"))
    peer = make_cert(
        ndes.ra_sig_cert.subject, cached_key(11), ndes.ca_cert.subject, ndes.ca_key, 4242,
        cdp="http://198.51.100.7/ca.crl",
    )
    der = peer.public_bytes(serialization.Encoding.DER)
    who = PeerIdentity(9, peer.subject.public_bytes())
    now = dt.datetime.now(dt.UTC)
    v = pki.source.verify_peer([der], who, now)
    assert v.accepted and v.warning == "cert revocation status unknown"
    assert pki.source.missing_crl_urls == {"http://198.51.100.7/ca.crl"}
    ndes.revoked.add(4242)
    root = Resource()
    root.putChild(b"ca.crl", Data(ndes.crl(), "application/pkix-crl"))
    assert _result(pki.refresh_crls(StubTreq(root))) == 1
    v = pki.source.verify_peer([der], who, now)
    assert not v.accepted and v.reason == "certificate revoked"


def test_load_generates_the_configured_key_once(tmp_path) -> None:
    import dataclasses

    pki = _exec(tmp_path, NdesEmulator(), task.Clock())
    pki.config = dataclasses.replace(pki.config, rsa_key_modulus=1024)
    pki.load()
    assert pki.key is not None
    pki.save_all()
    again = _exec(tmp_path, NdesEmulator(), task.Clock())
    again.generate_key = lambda bits: (_ for _ in ()).throw(AssertionError("regenerated"))
    again.config = dataclasses.replace(again.config, rsa_key_modulus=1024)
    again.load()
    assert again.key is not None


def test_enroll_after_restart_uses_the_authenticated_ca(tmp_path) -> None:
    """After a restart the stored (fingerprint-checked) CA certificates are used: a CA whose
    GetCACert now answers other certificates gets no request enveloped to them."""
    ndes = NdesEmulator()
    pki = _exec(tmp_path, ndes, task.Clock())
    pki.generate_rsa_key(1024)
    _result(pki.authenticate("sjvpn"))
    pki.save_all()
    impostor = NdesEmulator(
        ca_key=cached_key(4), ra_sig_key=cached_key(5), ra_enc_key=cached_key(6)
    )
    again = _exec(tmp_path, impostor, task.Clock())
    again.load()
    out = _result(again.enroll("sjvpn", impostor.challenge))
    assert "GetCACert" not in impostor.operations
    assert out[-1] != "The certificate has been granted by CA!", out
    assert again.identities["sjvpn"].certificate is None
