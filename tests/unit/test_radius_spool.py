"""The accounting spool (RFC 2866 records kept until acknowledged): order, durability across a
reload, private file mode, a damaged (torn) last line skipped, bytes values kept exactly."""

from __future__ import annotations

import stat
from pathlib import Path

from pixgw.aaa.accounting import AccountingRecord, AccountingSpool


def record(seq: int) -> AccountingRecord:
    return AccountingRecord(
        seq,
        100.0 + seq,
        (("Acct-Status-Type", "Start"), ("Class", b"\x00\xffc"), ("NAS-Port", seq)),
    )


def test_append_pop_reload(tmp_path: Path) -> None:
    spool = AccountingSpool(tmp_path)
    for i in (1, 2, 3):
        spool.append(record(i))
    assert spool.path is not None
    assert stat.S_IMODE(spool.path.stat().st_mode) == 0o600
    spool.pop_head()
    again = AccountingSpool(tmp_path)
    assert [r.sequence for r in again.records] == [2, 3]
    assert again.records[0] == record(2)  # bytes and ints survive exactly
    assert again.next_sequence == 4


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    spool = AccountingSpool(tmp_path)
    spool.append(record(1))
    assert spool.path is not None
    with spool.path.open("a") as f:
        f.write('{"seq": 2, "t": 1')  # the process died mid-write
    again = AccountingSpool(tmp_path)
    assert [r.sequence for r in again.records] == [1]
    again.append(record(2))  # not glued to the torn line
    assert [r.sequence for r in AccountingSpool(tmp_path).records] == [1, 2]


def test_memory_only_without_a_directory() -> None:
    spool = AccountingSpool(None)
    spool.append(record(1))
    spool.pop_head()
    assert list(spool.records) == [] and spool.path is None
