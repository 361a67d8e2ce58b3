"""SCEP parsers on hostile input (pixgw.pki.scep): GetCACert answers, CertReps, envelopes and
GetCACaps either give a value or raise ScepError, never anything else."""

from __future__ import annotations

import contextlib
import os

from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from pixgw.pki import pkcs7, scep
from tests.interop.ndes import NdesEmulator, cached_key

NDES = NdesEmulator(challenge="c")
CAS = scep.parse_ca_certificates(*NDES.get_ca_cert())
_KEY = cached_key(10)
_CSR = scep.build_csr(_KEY, "fuzz.example.com", "c")
_SIGNER = scep.build_self_signed(_KEY, x509.load_der_x509_csr(_CSR).subject, 3, 1.7e9)
REQ = scep.build_pkcs_req(_CSR, _KEY, _SIGNER, CAS, scep.parse_ca_caps(NDES.caps), os.urandom)
ANSWER = NDES.pki_operation(REQ.message)
GETCACERT = NDES.get_ca_cert()[1]


def _mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, val in edits:
        buf[pos % len(buf)] = val
    return bytes(buf)


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(edits, st.integers(0, 4000))
def test_cert_rep_mutations(e: list[tuple[int, int]], cut: int) -> None:
    for data in (_mutate(ANSWER, e), ANSWER[: len(ANSWER) - cut]):
        with contextlib.suppress(scep.ScepError):
            scep.parse_cert_rep(data, REQ, CAS, _KEY)


@settings(max_examples=150, deadline=None)
@given(edits)
def test_getcacert_mutations(e: list[tuple[int, int]]) -> None:
    data = _mutate(GETCACERT, e)
    for ctype in ("application/x-x509-ca-ra-cert", "application/x-x509-ca-cert"):
        with contextlib.suppress(scep.ScepError):
            scep.parse_ca_certificates(ctype, data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    scep.parse_ca_caps(data)
    for parse in (
        lambda: scep.parse_ca_certificates("application/x-x509-ca-ra-cert", data),
        lambda: scep.parse_cert_rep(data, REQ, CAS, _KEY),
        lambda: pkcs7.open_envelope(data, _KEY),
        lambda: pkcs7.parse_certs_only(data),
    ):
        with contextlib.suppress(scep.ScepError):
            parse()
