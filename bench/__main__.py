"""`python -m bench`: run every benchmark case once and write BENCHMARKS.md."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from bench.report import render
from bench.suite import ROOT, Options, log, run_suite

DEFAULT_SIZE = 100_000
DEFAULT_REPEATS = 3
QUICK_SIZE = 2_000
SMOKE_SIZE = 200


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark reading, submitting, orchestration and polling against the "
        "built-in emulator, and write the results as markdown.",
    )
    parser.add_argument(
        "--size", type=int, help=f"requests/results per batch (default {DEFAULT_SIZE:,})"
    )
    parser.add_argument(
        "--repeats", type=int, help=f"runs of each case; medians (default {DEFAULT_REPEATS})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a tiny run: --size {QUICK_SIZE:,} --repeats 1 unless given",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a functional check of every case, not a measurement: --size {SMOKE_SIZE} "
        "--repeats 1 unless given, with the orchestration case run alongside the others, so "
        "no timing is comparable (the report says so); the release section (a real Prefect "
        "server, minutes of real time) is left out, but with --only release it runs a short "
        "batch and poller window; so are the sync vs async flow rows, run with --only async",
    )
    parser.add_argument(
        "--only",
        choices=[
            "async",
            "mistral",
            "openai",
            "release",
            "rounds",
            "together",
            "typed",
            "xai",
            "gemini",
        ],
        default="",
        help="run only these rows (async: a small run_batch in a sync flow vs an async one; "
        "gemini: the Gemini read and submit rows, their tables alone; "
        "mistral: the Mistral read row, its table alone; "
        "openai: the OpenAI read and submit cases; release: release "
        "mode on a real Prefect server, worker and poller; rounds: a two-round run_batch vs "
        "one round; together: the Together read cases; typed: reading typed results vs a plain "
        "read; xai: the xAI read rows); the report shows every "
        "other case as not run",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="where to write the report (default: BENCHMARKS.md at the repo root)",
    )
    args = parser.parse_args(argv)
    if args.size is None:
        args.size = SMOKE_SIZE if args.smoke else QUICK_SIZE if args.quick else DEFAULT_SIZE
    if args.repeats is None:
        args.repeats = 1 if args.quick or args.smoke else DEFAULT_REPEATS
    if args.size < 1 or args.size > 100_000:
        parser.error("--size must be between 1 and 100,000 (one Anthropic batch)")
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    command = shlex.join(["python", "-m", "bench", *argv])
    if args.only == "gemini":
        from bench.gemini_report import render_gemini
        from bench.gemini_suite import run_gemini

        gemini = run_gemini(args.size, args.repeats)
        args.output.write_text(render_gemini(gemini, command), encoding="utf-8")
        log(f"wrote {args.output}")
        return 0
    if args.only == "mistral":
        from bench.mistral_suite import render_mistral, run_mistral

        mistral = run_mistral(args.size, args.repeats)
        args.output.write_text(render_mistral(mistral, command), encoding="utf-8")
        log(f"wrote {args.output}")
        return 0
    options = Options(
        size=args.size, repeats=args.repeats, smoke=args.smoke, only=args.only, quick=args.quick
    )
    results = run_suite(options)
    args.output.write_text(render(results, command), encoding="utf-8")
    log(f"wrote {args.output} in {results.seconds / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
