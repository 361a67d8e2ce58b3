"""Coverage-guided fuzzing of pixgw's decoders and two stateful targets (issue 30), with atheris
(libFuzzer for Python): tests/fuzz/targets.py names the targets and their seed corpora.

    .venv/bin/python scripts/fuzz.py                       # the short mode CI runs (~1-2 min)
    .venv/bin/python scripts/fuzz.py --runs 10000000 --jobs 2 [--target ike_message ...]
                                                           # the long mode (hours)
    .venv/bin/python scripts/fuzz.py --replay-only --corpus DIR   # lines covered by the corpora

Each target runs in a process of its own (pixgw instrumented for coverage, PYTHONHASHSEED=0,
libFuzzer's -seed fixed: a short run gives the same inputs each time), from its seeds plus what
earlier runs kept in ``--corpus DIR/TARGET``. It prints, per target, the inputs run, the
coverage (libFuzzer's ``cov``/``ft``), the corpus size, inputs per second and the crashes; a
crash's input is saved in ``--corpus DIR/crashes`` (to become a vector test) and the exit
status is 1.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SHORT_RUNS = {"gateway": 1000, "ike_responder": 2000, "ppp_session": 6000, "config": 3000,
              "cert_rep": 2000, "lns": 10000}
SHORT_DEFAULT = 20000


def child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris  # noqa: PLC0415 (only the fuzzing child needs it)

    sys.path.insert(0, str(HERE))
    with atheris.instrument_imports(include=["pixgw", "tests.fuzz"]):
        from tests.fuzz.targets import TARGETS  # noqa: PLC0415 (instrumented)

        target, seeds = TARGETS[name]
        for seed in seeds():  # imports what the target needs, under instrumentation
            target(seed)
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()


def replay_child(name: str, corpus: Path) -> None:
    """Run every input of ``corpus`` through target ``name`` under coverage.py; print the lines
    of the target's modules run, of all, as ``LINES covered total``."""
    import coverage  # noqa: PLC0415 (only the replaying child needs it)

    sys.path.insert(0, str(HERE))
    from tests.fuzz.targets import MODULES  # noqa: PLC0415 (before coverage: only the modules count)

    cov = coverage.Coverage(data_file=None, include=[str(HERE / m) for m in MODULES[name]])
    cov.start()
    from tests.fuzz.targets import TARGETS  # noqa: PLC0415

    target = TARGETS[name][0]
    for path in sorted(corpus.iterdir()):
        target(path.read_bytes())
    cov.stop()
    covered = total = 0
    for filename in cov.get_data().measured_files():
        _, statements, _, missing, _ = cov.analysis2(filename)
        total += len(statements)
        covered += len(statements) - len(missing)
    print(f"LINES {covered} {total}")


def replay(name: str, corpus: Path) -> str:
    """``covered/total (percent)`` of the target's module lines its corpus runs."""
    done = subprocess.run([sys.executable, __file__, "--replay-child", name, str(corpus / name)],
                          capture_output=True, text=True, check=False, cwd=HERE,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=3600)
    found = re.search(r"LINES (\d+) (\d+)", done.stdout)
    if found is None:
        return "failed: " + (done.stdout + done.stderr)[-200:]
    covered, total = int(found.group(1)), int(found.group(2))
    return f"{covered}/{total} ({100 * covered / max(total, 1):.0f} %)"


def run_target(name: str, runs: int, seconds: int, corpus: Path, seed: int) -> dict[str, object]:
    sys.path.insert(0, str(HERE))
    from tests.fuzz.targets import TARGETS  # noqa: PLC0415 (after the path)

    work = corpus / name
    work.mkdir(parents=True, exist_ok=True)
    crashes = corpus / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(TARGETS[name][1]()):
        (work / f"seed-{i}").write_bytes(data)
    args = [f"-runs={runs}", f"-seed={seed}", "-rss_limit_mb=4096", "-timeout=60",
            f"-artifact_prefix={crashes}/{name}-", "-print_final_stats=1", str(work)]
    if seconds:
        args.insert(0, f"-max_total_time={seconds}")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    t0 = time.monotonic()
    log_file = corpus / f"{name}.log"  # written as it runs: tail it to follow a long run
    with log_file.open("w") as out:
        done = subprocess.run([sys.executable, __file__, "--child", name, "--", *args], env=env,
                              stdout=out, stderr=subprocess.STDOUT, check=False, cwd=HERE)
    wall = time.monotonic() - t0
    log = log_file.read_text(errors="replace")
    last = [line for line in log.splitlines() if re.match(r"#\d+\s", line)]
    stats = dict(re.findall(r"(cov|ft|corp|exec/s): (\S+)", last[-1])) if last else {}
    executed = re.search(r"stat::number_of_executed_units: (\d+)", log)
    crashed = done.returncode != 0
    return {
        "target": name,
        "inputs": int(executed.group(1)) if executed else 0,
        "cov": stats.get("cov", "?"),
        "ft": stats.get("ft", "?"),
        "corpus": stats.get("corp", "?"),
        "seconds": round(wall, 1),
        "crash": crashed,
        "tail": "\n".join(log.splitlines()[-25:]) if crashed else "",
    }


def as_completed_rows(
    pool: ThreadPoolExecutor, one: Callable[[str], dict[str, object]], names: list[str]
) -> Iterator[dict[str, object]]:
    futures = [pool.submit(one, name) for name in names]
    for future in as_completed(futures):
        yield future.result()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[4:])
        return 0
    if len(sys.argv) > 3 and sys.argv[1] == "--replay-child":
        replay_child(sys.argv[2], Path(sys.argv[3]))
        return 0
    sys.path.insert(0, str(HERE))
    from tests.fuzz.targets import TARGETS  # noqa: PLC0415 (after the path)

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", action="append", choices=sorted(TARGETS),
                    help="a target (repeatable); all when none is given")
    ap.add_argument("--runs", type=int, default=0,
                    help="inputs per target (default: the short mode's, a few thousand)")
    ap.add_argument("--seconds", type=int, default=0, help="time limit per target (0: none)")
    ap.add_argument("--jobs", type=int, default=1, help="targets run at once")
    ap.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    ap.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "pixgw-fuzz",
                    help="where corpora, logs and crash inputs are kept")
    ap.add_argument("--lines", action="store_true",
                    help="after the runs, replay each target's corpus under coverage.py and print "
                         "the share of its modules' lines it runs")
    ap.add_argument("--replay-only", action="store_true",
                    help="no fuzzing: only --lines, on the corpora already in --corpus")
    args = ap.parse_args()
    names = args.target or sorted(TARGETS)
    if args.replay_only:
        for name in names:
            print(f"{name:<15}{replay(name, args.corpus)}", flush=True)
        return 0

    def one(name: str) -> dict[str, object]:
        runs = args.runs or SHORT_RUNS.get(name, SHORT_DEFAULT)
        return run_target(name, runs, args.seconds, args.corpus, args.seed)

    print(f"{'target':<15}{'inputs':>11}{'cov':>7}{'ft':>8}{'corpus':>15}{'inputs/s':>10}"
          f"{'s':>8}  crash", flush=True)
    rows = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for r in as_completed_rows(pool, one, names):  # a row as soon as its target ends
            rate = int(r["inputs"]) / float(r["seconds"]) if r["seconds"] else 0  # type: ignore[arg-type]
            print(f"{r['target']:<15}{r['inputs']:>11}{r['cov']:>7}{r['ft']:>8}{r['corpus']:>15}"
                  f"{rate:>10.0f}{r['seconds']:>8}  {'CRASH' if r['crash'] else '-'}", flush=True)
            rows.append(r)
    if args.lines:
        print(f"\n{'target':<15}lines of its modules run by its corpus (coverage.py)")
        for name in names:
            print(f"{name:<15}{replay(name, args.corpus)}", flush=True)
    failed = [r for r in rows if r["crash"]]
    for r in failed:
        print(f"\n--- {r['target']} ---\n{r['tail']}")
    if failed:
        print(f"\ncrash inputs in {args.corpus / 'crashes'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
