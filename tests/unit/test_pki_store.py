"""The key/certificate store (pixgw.pki.store): atomic writes, modes, restart; and the
``show crypto ca certificates`` render of the reference's own block."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import pytest

from pixgw.cli.ca import render_ca_certificates
from pixgw.pki.store import CaStore
from pixgw.status import CaCertificateStatus, PkiStatusSnapshot
from tests.interop.ndes import cached_key


def test_key_mode_0600_and_restart(tmp_path: Path) -> None:
    s = CaStore(tmp_path / "ca")
    assert s.load_key() is None
    s.save_key(cached_key(10))
    assert stat.S_IMODE(os.stat(s.key_path).st_mode) == 0o600
    again = CaStore(tmp_path / "ca").load_key()
    assert again is not None and again.private_numbers() == cached_key(10).private_numbers()
    s.save("sjvpn", "certificate", b"\x30\x00")
    assert CaStore(tmp_path / "ca").load("sjvpn", "certificate") == b"\x30\x00"
    assert stat.S_IMODE(os.stat(tmp_path / "ca").st_mode) == 0o700


def test_bad_identity_names_refused(tmp_path: Path) -> None:
    s = CaStore(tmp_path)
    for name in ("../etc", "", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            s.save(name, "ca", b"x")
    with pytest.raises(ValueError):
        s.save("ok", "passwd", b"x")


def _t(s: str) -> dt.datetime:
    return dt.datetime.strptime(s, "%H:%M:%S %b %d %Y").replace(tzinfo=dt.UTC)


def test_render_reference_blocks() -> None:
    snap = PkiStatusSnapshot(
        (
            CaCertificateStatus(
                "Certificate", "Available", "03716308000000000022", "General Purpose",
                (("Name", "PIX-506-2.sjvpn.com"),),
                _t("16:29:10 Apr 27 2001"), _t("16:39:10 Apr 27 2002"),
            ),
            CaCertificateStatus(
                "RA Signature Certificate", "Available", "0347dc82000000000002", "Signature",
                (("CN", "scott"), ("OU", "tac"), ("O", "cisco"), ("L", "san jose"),
                 ("ST", "ca"), ("C", "US"), ("EA =<16>", "zaahmed@cisco.com")),
                _t("18:47:45 Jul 27 2000"), _t("18:57:45 Jul 27 2001"),
            ),
        )
    )
    assert render_ca_certificates(snap) == (
        "Certificate\n"
        "  Status: Available\n"
        "  Certificate Serial Number: 03716308000000000022\n"
        "  Key Usage: General Purpose\n"
        "  Subject Name\n"
        "    Name: PIX-506-2.sjvpn.com\n"
        "  Validity Date: \n"
        "    start date: 16:29:10 Apr 27 2001\n"
        "    end   date: 16:39:10 Apr 27 2002\n"
        "\n"
        "RA Signature Certificate\n"
        "  Status: Available\n"
        "  Certificate Serial Number: 0347dc82000000000002\n"
        "  Key Usage: Signature\n"
        "  CN = scott\n"
        "   OU = tac\n"
        "   O = cisco\n"
        "   L = san jose\n"
        "   ST = ca\n"
        "   C = US\n"
        "   EA =<16> zaahmed@cisco.com\n"
        "  Validity Date: \n"
        "    start date: 18:47:45 Jul 27 2000\n"
        "    end   date: 18:57:45 Jul 27 2001\n"
    )
    assert render_ca_certificates(PkiStatusSnapshot()) == ""
