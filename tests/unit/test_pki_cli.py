"""pixgw.cli.ca.register: the ``show crypto ca``/``show ca`` and ``ca`` exec commands in a
CommandTable, reading ``gateway.pki`` (a CaExec) — as the lead wires them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from twisted.internet import task

from pixgw.cli import ca as ca_cli
from pixgw.cli.commands import CliError, CommandContext, CommandTable
from pixgw.pki.commands import CaExec
from tests.interop.ndes import NdesEmulator
from tests.protocol.test_pki_commands import _exec
from tests.protocol.test_scep_ndes import _result


@dataclass
class Gateway:
    pki: CaExec


def test_commands_through_the_table(tmp_path) -> None:
    table = CommandTable()
    ca_cli.register(table)
    ndes = NdesEmulator()
    ctx = CommandContext(Gateway(_exec(tmp_path, ndes, task.Clock())))
    assert table.run(ctx, "show crypto ca certificates") == ""
    assert table.run(ctx, "ca generate rsa key 1024").endswith("Success.\n")
    assert table.run(ctx, "show ca mypubkey rsa").startswith("% Key pair was generated at: ")
    text = _result(table.run(ctx, "ca authenticate sjvpn"))
    assert isinstance(text, str) and text.startswith("Certificate has the following attributes:")
    text = _result(table.run(ctx, f"ca enroll sjvpn {ndes.challenge} serial 192.0.2.1"))
    assert isinstance(text, str) and text.endswith("The certificate has been granted by CA!\n")
    assert ndes.challenge not in text
    shown = table.run(ctx, "show ca certificate")
    assert isinstance(shown, str)
    assert "    Name: PIX-506-2.sjvpn.com\n    Serial Number: 480430455\n" in shown
    assert "    IP Address: 192.0.2.1\n" in shown
    assert _result(table.run(ctx, "ca crl request sjvpn")) == ""
    assert table.run(ctx, "ca save all") == ""
    assert (tmp_path / "ca" / "sjvpn" / "certificate.der").exists()


def test_without_pki() -> None:
    table = CommandTable()
    ca_cli.register(table)
    with pytest.raises(CliError):
        table.run(CommandContext(object()), "show crypto ca certificates")
