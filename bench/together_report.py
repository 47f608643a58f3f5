"""The Together read section's tables and template fields."""

from __future__ import annotations

from bench.formatting import mb
from bench.tables import result_tables
from bench.together_cases import MODEL as TOGETHER_MODEL
from bench.together_suite import TogetherResults


def together_tables(result: TogetherResults) -> tuple[str, str]:
    """The Together read rows' fresh-process and in-process tables."""
    if not result.readers:
        return f"Not measured: {result.note}", ""
    readers = list(result.readers.values())
    return result_tables(readers, readers, result.readers["project"])


def together_fields(together: TogetherResults) -> dict[str, str]:
    """The report template's Together fields."""
    fresh, in_process = together_tables(together)
    return {
        "together_size": f"{together.size:,}",
        "together_read": f"{together.read:,}",
        "together_model": TOGETHER_MODEL,
        "together_note": f"\n**Not measured: {together.note}**\n" if together.note else "",
        "together_output_mb": mb(together.output_bytes),
        "together_error_mb": mb(together.error_bytes),
        "together_read_fresh_table": fresh,
        "together_read_table": in_process,
    }
