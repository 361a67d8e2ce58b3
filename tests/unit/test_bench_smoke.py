"""The benchmarks run (tiny sizes); CI never asserts a time. Covers bench/run.py's pieces:
in-process IKEv1 setups (RFC 2409), the userspace path (RFC 4303 -> RFC 2661 -> RFC 1661),
concurrent sessions, the table and the JSON file; strongSwan only reports why it is skipped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_path  # noqa: E402
import bench_sessions  # noqa: E402
import bench_setup  # noqa: E402
import run  # noqa: E402


def test_setup_benchmark_completes_one_setup_per_group() -> None:
    rows = bench_setup.run(seconds=0.0, groups=(2, 19), max_setups=1)
    assert [(r["group"], r["setups"]) for r in rows] == [(2, 1), (19, 1)]


def test_path_benchmark_delivers_every_packet_both_ways() -> None:
    rows = bench_path.run(seconds=0.01)
    assert [r["transform"] for r in rows] == ["aes-sha1", "3des-sha1", "des-md5"]
    for r in rows:
        delivered, sent = r["in_delivered"].split("/")
        assert delivered == sent
        out, tried = r["out_sent"].split("/")
        assert out == tried


def test_sessions_benchmark_sets_up_idles_and_tears_down() -> None:
    r = bench_sessions.run(sessions=2, group=19, idle_seconds=70.0)
    assert r["established"] == 2
    assert r["alive_after_idle"] == 2  # hellos and echoes answered across a 60 s hello
    assert r["sessions_left"] == 0


def test_run_prints_a_table_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"
    monkeypatch.setattr(sys, "argv", ["run.py", "--quick", "--no-strongswan", "--json", str(out)])
    run.main()
    data = json.loads(out.read_text())
    assert {"ike_in_process", "path", "sessions", "machine"} <= set(data)
    # the sessions row comes from bench_sessions.py run in a process of its own
    assert [(r["sessions"], r["established"], r["sessions_left"]) for r in data["sessions"]] == [
        (3, 3, 0)
    ]
    text = capsys.readouterr().out
    assert "userspace path" in text and "aes-sha1" in text


def test_table_lines_up_columns() -> None:
    text = run.table("t", [{"a": 1, "bb": "x"}, {"a": 22}])
    assert text.splitlines() == ["== t", " a  bb", " 1   x", "22    "]
