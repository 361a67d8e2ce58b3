"""pixgw.files.atomic_write: old or new, never torn; the mode asked for whatever the umask;
the directory fsynced after the rename. Real files in tmp_path, a failing fsync injected.
Under 0.1 s."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import pixgw.files as files_mod
from pixgw.files import atomic_write


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "f.der"
    atomic_write(target, b"old")

    def boom(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(files_mod.os, "fsync", boom)
    with pytest.raises(OSError):
        atomic_write(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    monkeypatch.undo()
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.der"]  # no temporary left over


def test_mode_is_0600_unless_asked_whatever_the_old_file_and_umask(tmp_path: Path) -> None:
    target = tmp_path / "pixgw.cfg"
    target.write_text("old")
    target.chmod(0o644)
    old = os.umask(0)
    try:
        atomic_write(target, b"isakmp key secret address 0.0.0.0\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    atomic_write(tmp_path / "ca.der", b"\x30\x00", 0o644)
    assert stat.S_IMODE((tmp_path / "ca.der").stat().st_mode) == 0o644


def test_file_then_directory_are_fsynced(tmp_path: Path, monkeypatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files_mod.os, "fsync", record)
    atomic_write(tmp_path / "x", b"data")
    assert len(synced) == 2
    assert Path(synced[0]).name.startswith(".x.tmp")  # the content, before the rename
    assert synced[1] == str(tmp_path)  # then the rename


def test_write_memory_writer_saves_0600_over_a_0644_config(tmp_path: Path) -> None:
    from pixgw.tap import atomic_writer  # the writer twistd gives the gateway

    config = tmp_path / "pixgw.cfg"
    config.write_text("hostname old\n")
    config.chmod(0o644)
    atomic_writer(str(config))("hostname pixgw\nisakmp key s3cret address 0.0.0.0\n")
    assert config.read_text() == "hostname pixgw\nisakmp key s3cret address 0.0.0.0\n"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["pixgw.cfg"]
