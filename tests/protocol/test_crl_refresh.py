"""CRLs fetched again before their nextUpdate (issue 29), against the NDES emulator through
StubTreq under task.Clock (its CRLs valid one hour of that clock): refreshed in time, a new
revocation picked up, the CA's CRL service down logged (717012) and retried, a stale CRL then
refused without crloptional and let in with its warning with it. Under 2 s."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives import serialization
from treq.testing import StubTreq
from twisted.internet import task

from pixgw import syslog
from pixgw.config.model import Ca, CaConfigure, CaIdentity
from pixgw.ike.certauth import PeerIdentity
from pixgw.pki.commands import CaExec
from pixgw.pki.ike import REVOCATION_UNKNOWN
from pixgw.pki.mscep import ScepCertificateAuthority
from pixgw.pki.refresh import CHECK_EVERY, RETRY_AFTER, CrlRefresher
from tests.interop.ndes import NdesEmulator, NdesResource, cached_key
from tests.protocol.test_scep_ndes import _result

T0 = 1_800_000_000.0
IDENT = CaIdentity("sjvpn", "171.68.9.149", "/certsrv/mscep/mscep.dll")
WHO = PeerIdentity(2, b"PIX-506-2.sjvpn.com")


def setup(tmp_path, crl_optional: bool):
    clock = task.Clock()
    clock.advance(T0)
    ndes = NdesEmulator(crl_lifetime=dt.timedelta(hours=1),
                        now=lambda: dt.datetime.fromtimestamp(clock.seconds(), dt.UTC))
    conf = Ca(identities=(IDENT,), configures=(CaConfigure("sjvpn", "ra", 1, 20, crl_optional),),
              store=str(tmp_path / "ca"))

    def factory(ident, configure):
        return ScepCertificateAuthority(
            ident.name, ident.url, configure.mode, 60.0, configure.retry_count,
            http=StubTreq(NdesResource(ndes)), clock=clock)

    pki = CaExec(conf, "PIX-506-2.sjvpn.com", authority_for=factory, serial="1",
                 generate_key=lambda bits: cached_key(10), now=clock.seconds)
    pki.generate_rsa_key(1024)
    _result(pki.authenticate("sjvpn"))
    _result(pki.enroll("sjvpn", "ndes-challenge"))
    assert _result(pki.crl_request("sjvpn")) == []
    refresher = CrlRefresher(pki, clock)
    refresher.start()
    peer = ndes.issued[0].public_bytes(serialization.Encoding.DER)
    return clock, ndes, pki, refresher, peer


def at(clock: task.Clock) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.seconds(), dt.UTC)


def next_update(pki: CaExec) -> float:
    (crl,) = pki.source.crls.values()
    assert crl.next_update_utc is not None
    return crl.next_update_utc.timestamp()


def advance(clock: task.Clock, seconds: float) -> None:
    for _ in range(int(seconds // CHECK_EVERY)):
        clock.advance(CHECK_EVERY)
    clock.advance(seconds % CHECK_EVERY)


def test_a_crl_is_fetched_again_before_its_next_update_with_new_revocations(tmp_path) -> None:
    clock, ndes, pki, refresher, peer = setup(tmp_path, crl_optional=False)
    try:
        first = next_update(pki)
        assert first == T0 + 3600
        assert pki.source.verify_peer([peer], WHO, at(clock)).accepted
        ndes.revoked.add(ndes.issued[0].serial_number)  # revoked now; the cache does not know
        advance(clock, 3600 - 6.5 * 60 - CHECK_EVERY)  # not yet in its margin (6.5 min)
        assert next_update(pki) == first and refresher.refreshed == 0
        assert pki.source.verify_peer([peer], WHO, at(clock)).accepted
        advance(clock, 2 * CHECK_EVERY)  # in the margin: fetched again, before nextUpdate
        assert clock.seconds() < first
        assert refresher.refreshed == 1 and next_update(pki) > first
        verdict = pki.source.verify_peer([peer], WHO, at(clock))
        assert not verdict.accepted and verdict.reason == "certificate revoked"
        # hours on, every CRL is replaced in time: never a moment without one
        for _ in range(5):
            advance(clock, 3600)
            assert next_update(pki) > clock.seconds()
        assert refresher.failures == 0
    finally:
        refresher.stop()


def test_the_ca_down_is_logged_retried_and_the_stale_crl_not_used(tmp_path) -> None:
    clock, ndes, pki, refresher, peer = setup(tmp_path, crl_optional=False)
    lines: list[str] = []

    def observe(event: dict[str, object]) -> None:
        if "pix_line" in event:
            lines.append(str(event["pix_line"]))

    syslog.add_observer(observe)
    try:
        first = next_update(pki)
        ndes.crl_down = True
        advance(clock, 3600 - 6 * 60)  # into the margin: the try fails
        failed = [line for line in lines if "-717012:" in line]
        assert len(failed) == 1, lines
        assert ("Failed to refresh CRL cache entry from the server for trustpoint sjvpn at"
                in failed[0])
        assert refresher.failures == 1
        advance(clock, RETRY_AFTER - CHECK_EVERY)  # not hammered every minute
        assert refresher.failures == 1
        advance(clock, 2 * CHECK_EVERY)
        assert refresher.failures == 2
        # past nextUpdate the CRL is stale: without crloptional the peer is refused
        advance(clock, first - clock.seconds() + 1)
        verdict = pki.source.verify_peer([peer], WHO, at(clock))
        assert not verdict.accepted and REVOCATION_UNKNOWN in verdict.reason
        # with crloptional the PIX lets it in, with its warning
        pki.source.crl_optional = True
        verdict = pki.source.verify_peer([peer], WHO, at(clock))
        assert verdict.accepted and verdict.warning == REVOCATION_UNKNOWN
        pki.source.crl_optional = False
        # the CA back: the next try gets a CRL and peers are checked against it again
        ndes.crl_down = False
        advance(clock, RETRY_AFTER)
        assert refresher.refreshed == 1 and next_update(pki) > clock.seconds()
        assert pki.source.verify_peer([peer], WHO, at(clock)).accepted
    finally:
        syslog.remove_observer(observe)
        refresher.stop()


def test_an_older_crl_does_not_take_back_a_revocation(tmp_path) -> None:
    clock, ndes, pki, refresher, peer = setup(tmp_path, crl_optional=False)
    try:
        old = ndes.crl()  # before the revocation
        advance(clock, 60)
        ndes.revoked.add(ndes.issued[0].serial_number)
        assert _result(pki.crl_request("sjvpn")) == []
        assert not pki.source.verify_peer([peer], WHO, at(clock)).accepted
        assert pki.source.add_crl(old)  # signed by the CA, but older: kept out
        assert not pki.source.verify_peer([peer], WHO, at(clock)).accepted
    finally:
        refresher.stop()


def test_show_crypto_ca_crls_says_what_is_held_and_how_refreshing_goes(tmp_path) -> None:
    from pixgw.cli.ca import render_ca_crls

    clock, ndes, pki, refresher, _peer = setup(tmp_path, crl_optional=False)
    try:
        text = render_ca_crls(pki, clock.seconds())
        lines = text.splitlines()
        assert lines[0] == "CRL Issuer Name:"
        assert "CN=pixgw test CA" in lines[1]
        assert lines[3] == "    NextUpdate: 09:00:00 UTC Jan 15 2027"  # T0 + 1 h
        assert lines[4] == "    Retrieved by SCEP GetCRL from ca identity sjvpn"
        assert lines[-1] == "CRLs refreshed before their NextUpdate: 0, refresh failures: 0"
        ndes.crl_down = True
        advance(clock, 3600 + 60)
        text = render_ca_crls(pki, clock.seconds())
        assert "(expired: revocation status unknown)" in text
        assert text.splitlines()[-1].endswith("refresh failures: 2")  # in the margin, 5 min on
    finally:
        refresher.stop()
