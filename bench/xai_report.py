"""The xAI read section's tables and template fields."""

from __future__ import annotations

from bench.tables import result_tables
from bench.xai_suite import XAIResults


def xai_fields(xai: XAIResults) -> dict[str, str]:
    """The report template's xAI fields: its size, note, and fresh-process and in-process
    tables."""
    if xai.note or not xai.readers:
        return {
            "xai_size": f"{xai.size:,}",
            "xai_note": f"\n**Not measured: {xai.note or 'no rows'}**\n",
            "xai_read_fresh_table": "",
            "xai_read_table": "",
        }
    readers = list(xai.readers.values())
    fresh, in_process = result_tables(readers, readers, xai.readers["project"])
    return {
        "xai_size": f"{xai.size:,}",
        "xai_note": "",
        "xai_read_fresh_table": fresh,
        "xai_read_table": in_process,
    }
