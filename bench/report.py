"""BENCHMARKS.md: `report_template.md` filled from one run of the suite.

The goals table (measured value, limit, PASS/MISS) and every other table are computed from
the run's measurements; the prose lives in the template. Each section's limits, goals and
tables are in its own module (`bench.anthropic_report`, `bench.openai_report`,
`bench.imports_report`, `bench.flow_report`, `bench.release_report`, `bench.typed_report`;
the sync vs async flow table in `bench.async_flow`); this module gathers them with the
machine's description. How the cases are measured and what limits the missed goals:
docs/benchmarks.md.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from string import Template

from bench import openai_workloads
from bench.anthropic_report import (
    load_goal,
    load_tables,
    read_goals,
    read_tables,
    submit_goals,
    submit_tables,
)
from bench.async_flow import async_flow_table
from bench.flow_report import (
    orchestration_goal,
    orchestration_table,
    polling_goals,
    polling_table,
    rounds_goal,
    rounds_table,
)
from bench.flow_suite import FIXED_POLL_SECONDS
from bench.formatting import mb, table
from bench.gemini_report import gemini_fields
from bench.goal import Goal, goals_table
from bench.imports import CORE, FLOOR
from bench.imports_report import import_goals, import_tables
from bench.mistral_suite import mistral_fields
from bench.openai_report import openai_goals, openai_tables
from bench.orchestration import POLL_INTERVAL as ORCHESTRATION_POLL_INTERVAL
from bench.orchestration import PROMPT_CHARS as ORCHESTRATION_PROMPT_CHARS
from bench.provider_report import read_floor_goal
from bench.release import (
    MAX_POLL_INTERVAL as RELEASE_MAX_POLL_INTERVAL,
)
from bench.release import (
    ON_TIME_SHARE,
    PENDING,
    SPREAD,
)
from bench.release import (
    POLL_INTERVAL as RELEASE_POLL_INTERVAL,
)
from bench.release_report import release_goals, release_poller_table, release_runs_table
from bench.rounds import PROCESSING_SECONDS as ROUNDS_PROCESSING_SECONDS
from bench.rounds import RETRIED_SHARE
from bench.suite import SuiteResults
from bench.tables import steps_table
from bench.together_report import together_fields
from bench.typed_report import TYPED_GOALS, TYPED_VS_PLAIN, typed_goals, typed_table
from bench.workloads import (
    MAX_TOKENS,
    PROMPT_CHARS,
    REPLY_CHARS,
    SIGNATURE_BYTES,
    THINKING_CHARS,
)
from bench.xai_report import xai_fields

__all__ = [  # the names tests and `bench.__main__` import from here
    "TYPED_GOALS",
    "Goal",
    "fields",
    "goals",
    "goals_table",
    "machine",
    "render",
]

PACKAGES = (
    "batchwork-prefect",
    "anthropic",
    "openai",
    "batchwork-ai",
    "httpx",
    "httpx2",
    "orjson",
    "pydantic",
    "prefect",
)

TEMPLATE = Path(__file__).resolve().parent / "report_template.md"
SMOKE_NOTE = (
    "\n**A `--smoke` run: a functional check, not a measurement.** The orchestration and "
    "retry-round cases ran alongside the others, so no number below is comparable with "
    "another run's; rerun without `--smoke` to measure.\n"
)
ONLY_NOTE = (
    "\n**Only the {only} rows ran (`--only {only}`)**: every other case shows as not run "
    "and its goals as n/a.\n"
)
"""The report's prose, with `$name` placeholders filled from the run (`string.Template`)."""

# machine -----------------------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    """(what, value) rows describing where the benchmark ran."""
    rows = [
        ("CPU", _cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("RAM", _ram()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in PACKAGES]
    rows.append(("Commit", _commit()))
    return rows


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(repository: Path = TEMPLATE.parent) -> str:
    """HEAD's short hash, and whether the work tree was clean (`git status --porcelain`)."""
    try:
        head = _git(repository, "rev-parse", "--short", "HEAD").strip()
        changes = _git(repository, "status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if changes.strip():
        return f"{head} plus uncommitted changes in the work tree"
    return f"{head} (clean work tree)"


def _git(repository: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return completed.stdout


# goals -------------------------------------------------------------------------------------


def goals(results: SuiteResults) -> list[Goal]:
    """Every goal, judged on this run's measurements."""
    return [
        *read_goals(results.read),
        load_goal(results.load),
        *submit_goals(results.submit),
        *import_goals(results.imports),
        orchestration_goal(results.orchestration),
        rounds_goal(results.rounds),
        *polling_goals(results.polling),
        *openai_goals(results.openai),
        *release_goals(results.release),
        *typed_goals(results.typed),
        read_floor_goal("Together", results.together.readers, results.together.note),
        read_floor_goal("xAI", results.xai.readers, results.xai.note),
        read_floor_goal("Gemini", results.gemini.readers, results.gemini.note),
        read_floor_goal("Mistral", results.mistral["rows"], results.mistral.get("note", "")),
    ]


# the report --------------------------------------------------------------------------------


def fields(results: SuiteResults, command: str) -> dict[str, str]:
    """What fills the template's placeholders, all from this run."""
    found = goals(results)
    read, load, submit = results.read, results.load, results.submit
    read_fresh, read_in_process = read_tables(read)
    load_fresh, load_in_process = load_tables(load)
    submit_fresh, submit_in_process = submit_tables(submit)
    import_table, import_steps_table = import_tables(results.imports)
    openai = results.openai
    openai_read_fresh, openai_read, openai_submit_fresh, openai_submit = openai_tables(openai)
    outcomes = read.outcomes
    return {
        "command": command,
        "smoke_note": (SMOKE_NOTE if results.options.smoke else "")
        + (ONLY_NOTE.format(only=results.options.only) if results.options.only else ""),
        "stamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": f"{results.seconds / 60:.1f}",
        "repeats": str(results.options.repeats),
        "size": f"{results.options.size:,}",
        "machine_table": table(["", ""], machine()),
        "goals_passed": str(sum(goal.passed is True for goal in found)),
        "goals_count": str(len(found)),
        "goals_table": goals_table(found),
        "read_size": f"{read.size:,}",
        "read_small_size": f"{read.small_size:,}",
        "succeeded": f"{outcomes.get('succeeded', 0):,}",
        "errored": f"{outcomes.get('errored', 0):,}",
        "expired": f"{outcomes.get('expired', 0):,}",
        "reply_chars": str(REPLY_CHARS),
        "text_block_chars": str(REPLY_CHARS // 2),
        "thinking_chars": str(THINKING_CHARS),
        "signature_chars": str(4 * -(-SIGNATURE_BYTES // 3)),
        "jsonl_mb": mb(read.jsonl_bytes),
        "jsonl_bytes": f"{read.jsonl_bytes:,}",
        "small_jsonl_mb": mb(read.small_jsonl_bytes),
        "read_fresh_table": read_fresh,
        "read_table": read_in_process,
        "read_steps_table": steps_table(read.steps, read.steps_note, read.size),
        "load_size": f"{load.size:,}",
        "record_mb": mb(load.record_bytes),
        "load_fresh_table": load_fresh,
        "load_table": load_in_process,
        "load_steps_table": steps_table(load.steps, load.steps_note or load.note, load.size),
        "submit_size": f"{submit.size:,}",
        "prompt_chars": str(PROMPT_CHARS),
        "max_tokens": str(MAX_TOKENS),
        "submit_fresh_table": submit_fresh,
        "submit_table": submit_in_process,
        "import_rounds": str(max((len(v) for v in results.imports.seconds.values()), default=0)),
        "import_core": CORE,
        "import_floor": FLOOR,
        "import_table": import_table,
        "import_steps_table": import_steps_table,
        "orchestration_requests": f"{results.orchestration.requests:,}",
        "orchestration_prompt_chars": str(ORCHESTRATION_PROMPT_CHARS),
        "orchestration_poll_interval": f"{ORCHESTRATION_POLL_INTERVAL:g}",
        "orchestration_table": orchestration_table(results.orchestration),
        "async_flow_requests": str(results.async_flow.requests),
        "async_flow_table": async_flow_table(results.async_flow),
        "rounds_requests": f"{results.rounds.requests:,}",
        "rounds_retried": f"{results.rounds.retried:,}",
        "rounds_retried_share": f"{RETRIED_SHARE:.0%}",
        "rounds_processing_seconds": f"{ROUNDS_PROCESSING_SECONDS:g}",
        "rounds_table": rounds_table(results.rounds),
        "polling_batch_seconds": f"{results.polling.batch_seconds:,.0f}",
        "fixed_poll_seconds": f"{FIXED_POLL_SECONDS:.0f}",
        "polling_table": polling_table(results.polling),
        "openai_size": f"{openai.size:,}",
        "openai_model": openai_workloads.MODEL,
        "openai_note": f"\n**Not measured: {openai.note}**\n" if openai.note else "",
        "openai_succeeded": f"{openai.outcomes.get('succeeded', 0):,}",
        "openai_tool_calls": f"{openai.outcomes.get('tool_calls', 0):,}",
        "openai_errored": f"{openai.outcomes.get('errored', 0):,}",
        "openai_expired": f"{openai.outcomes.get('expired', 0):,}",
        "openai_output_mb": mb(openai.output_bytes),
        "openai_error_mb": mb(openai.error_bytes),
        "openai_read_fresh_table": openai_read_fresh,
        "openai_read_table": openai_read,
        "openai_submit_fresh_table": openai_submit_fresh,
        "openai_submit_table": openai_submit,
        "release_requests": f"{results.release.requests:,}",
        "release_batch_seconds": f"{results.release.batch_seconds:.0f}",
        "release_server_seconds": f"{results.release.server_seconds:.0f}",
        "release_pending": f"{PENDING:,}",
        "release_spread": f"{SPREAD:,.0f}",
        "release_poll_interval": f"{RELEASE_POLL_INTERVAL:.0f}",
        "release_max_poll_interval": f"{RELEASE_MAX_POLL_INTERVAL:.0f}",
        "release_window_seconds": f"{results.release.poller.seconds:.0f}",
        "release_on_time": f"{ON_TIME_SHARE:.0%}",
        "release_runs_table": release_runs_table(results.release),
        "release_poller_table": release_poller_table(results.release.poller, results.release.note),
        "typed_size": f"{results.typed.size:,}",
        "typed_succeeded": f"{results.typed.outcomes.get('succeeded', 0):,}",
        "typed_errored": f"{results.typed.outcomes.get('errored', 0):,}",
        "typed_expired": f"{results.typed.outcomes.get('expired', 0):,}",
        "typed_answer_chars": f"{results.typed.answer_chars:,.0f}",
        "typed_anthropic_mb": mb(results.typed.results_bytes.get("anthropic", 0)),
        "typed_openai_mb": mb(results.typed.results_bytes.get("openai", 0)),
        "typed_openai_batches": str(results.typed.batches.get("openai", 0)),
        "typed_limit": f"{TYPED_VS_PLAIN:g}",
        "typed_table": typed_table(results.typed),
        **together_fields(results.together),
        **xai_fields(results.xai),
        **gemini_fields(results.gemini),
        **mistral_fields(results.mistral),
    }


def render(results: SuiteResults, command: str, template: Path = TEMPLATE) -> str:
    """The whole BENCHMARKS.md: the template filled from this run's measurements."""
    text = Template(template.read_text(encoding="utf-8")).substitute(fields(results, command))
    return text.rstrip() + "\n"
