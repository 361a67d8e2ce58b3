"""The accounting spool's acknowledgement mark (RFC 2866 §4: records are kept until a server
acknowledged them): a crash between an acknowledgement and the next compaction replays nothing
that was acknowledged and loses nothing that was not; sequence numbers keep growing across
restarts; draining N records rewrites the spool file O(log N + N/64) times, not N times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pixgw.aaa.accounting import AccountingRecord, AccountingSpool


def record(seq: int) -> AccountingRecord:
    return AccountingRecord(seq, 1000.0 + seq, (("Acct-Status-Type", "Start"), ("Class", b"\x00c")))


def fill(spool: AccountingSpool, n: int) -> None:
    for _ in range(n):
        spool.append(record(spool.next_sequence))


def test_crash_between_ack_and_compaction(tmp_path: Path) -> None:
    spool = AccountingSpool(tmp_path)
    fill(spool, 300)
    for _ in range(10):
        spool.pop_head()
    assert spool.path is not None
    assert len(spool.path.read_text().splitlines()) == 300  # not rewritten yet: only the mark
    assert (tmp_path / "radius-accounting.acked").read_text() == "10\n"
    again = AccountingSpool(tmp_path)  # the gateway died here
    assert [r.sequence for r in again.records] == list(range(11, 301))
    assert again.records[0].attributes == (("Acct-Status-Type", "Start"), ("Class", b"\x00c"))
    assert len(again.path.read_text().splitlines()) == 290  # type: ignore[union-attr]


def test_sequences_grow_across_a_drained_restart(tmp_path: Path) -> None:
    spool = AccountingSpool(tmp_path)
    fill(spool, 5)
    for _ in range(5):
        spool.pop_head()
    assert spool.path is not None and spool.path.read_text() == ""
    again = AccountingSpool(tmp_path)
    assert list(again.records) == [] and again.next_sequence == 6
    fill(again, 1)
    assert [r.sequence for r in AccountingSpool(tmp_path).records] == [6]


def test_a_damaged_mark_replays_rather_than_loses(tmp_path: Path) -> None:
    spool = AccountingSpool(tmp_path)
    fill(spool, 3)
    (tmp_path / "radius-accounting.acked").write_text("garbage")
    assert [r.sequence for r in AccountingSpool(tmp_path).records] == [1, 2, 3]


def test_draining_rewrites_the_file_rarely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = AccountingSpool(tmp_path)
    fill(spool, 1000)
    rewrites: list[int] = []
    original = AccountingSpool._replace

    def counting(path: Path | None, data: bytes) -> Any:
        if path == spool.path:
            rewrites.append(len(data))
        return original(path, data)

    monkeypatch.setattr(AccountingSpool, "_replace", staticmethod(counting))
    for _ in range(1000):
        spool.pop_head()
    assert list(spool.records) == [] and spool.path is not None and spool.path.read_text() == ""
    assert 1 <= len(rewrites) <= 20, len(rewrites)
