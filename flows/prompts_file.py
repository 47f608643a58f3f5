"""A data-pipeline step: a table of prompts in, the same table with each row's result out.

The input is a JSONL, CSV or Parquet file (Parquet needs pyarrow:
`pip install 'batchwork-prefect[parquet]'`). Its prompt column (`prompt_field`, default
`prompt`) is each request's prompt. A column named after a `BatchRequest` field that a cell
can hold is that request field: in CSV `custom_id`, `system`, `max_tokens`, `temperature`,
`top_p` and `top_k`; in JSONL and Parquet, whose values are typed, also `stop_sequences`,
`tools`, `tool_choice` and `params`. Every other column is a carried column: not sent to
the provider, written back unchanged in the row's output. `carry` names columns to carry
although they are named like a request field (a `system` column of notes); a column named
like a request field that cannot be one (a CSV `stop_sequences`, `messages`, a `prompt`
column while the prompts are in another) is refused unless carried.

The output is written next to the input in the input's format, named after the whole input
name: `prompts.csv` gives `prompts.csv.results.csv`, `prompts.jsonl` gives
`prompts.jsonl.results.jsonl` and `prompts.parquet` gives `prompts.parquet.results.parquet`.
It holds one row per input row, in input order: the input's columns (`custom_id` holding
the id the row was sent under), then `custom_id` if the input had none, `status`, `text`,
`error` (CSV: `type: message`; JSONL and Parquet: an object of `type` and `message`, or
null), `attempts`, `input_tokens`, `output_tokens`, `cache_creation_input_tokens`,
`cache_read_input_tokens` and `cost_usd` (the row's own cost at Batch API prices; 0 for a
result without usage, empty when the model is not priced). With `output` (a JSON schema)
the batch is typed: each top-level property of the schema becomes a column after `text`, in
the schema's order, filled from the row's parsed answer (empty where it has none; in CSV a
nested value is its JSON text); a schema without properties gives one `parsed` column.
`text` is kept: it shows the answer of a row whose answer did not validate
(`invalid_output`). An input column, or a schema property, named like any of these is
refused before anything is sent: rename it.

Every problem in the input is reported at once, each as `path:line: ...` (CSV lines counted
as in the file, the header being line 1) or `path:row N: ...` for Parquet, a bad value shown,
in one `InvalidBatchError`, before anything is sent. A CSV quote left open is one of them,
never a value that swallows the rows after it. `flows/data/prompts.jsonl` is a small example
input. The reading and writing are `batchwork_prefect.core.tables` and `.table_results`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from prefect import get_run_logger
from pydantic import Field

from batchwork_prefect import IncompleteResultsError, run_batch
from batchwork_prefect.core.polling import DEFAULT_POLL_INTERVAL
from batchwork_prefect.core.table_results import (
    check_writable,
    output_path,
    result_columns,
    typed_columns,
    write_results,
)
from batchwork_prefect.core.tables import read_table
from batchwork_prefect.orchestration.credentials import AnyCredentials
from batchwork_prefect.orchestration.flows import DEFAULT_MAX_ATTEMPTS, tagged_flow


@tagged_flow(name="batch-prompts-file", persist_result=False)
def batch_prompts_file(
    path: str,
    model: str = "anthropic/claude-opus-4-8",
    prompt_field: str = "prompt",
    carry: list[str] | None = None,
    output: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    credentials: AnyCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_POLL_INTERVAL,
    max_attempts: Annotated[int, Field(ge=1, le=10)] = DEFAULT_MAX_ATTEMPTS,
    allow_failed: Annotated[float | None, Field(ge=0)] = None,
) -> str:
    """Run every prompt of a JSONL, CSV or Parquet file as one batch; write the table back
    beside it, each row with its result, in the same format.

    The file is read where the flow runs (the worker). Every bad row is reported at once,
    as `path:line: problem` (Parquet: `path:row N: problem`), before anything is sent.

    Args:
        path: The JSONL, CSV or Parquet file of prompts, absolute or relative to the
            directory the deployment was made from (e.g. flows/data/prompts.jsonl). The
            results go beside it as <file name>.results.<its suffix>.
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8.
        prompt_field: The column (JSONL key) that holds each prompt.
        carry: Columns to write back unchanged and not send although they are named like a
            request field, e.g. ["system"]; other columns are carried anyway.
        output: A JSON schema that makes the batch typed: each answer is validated against
            it, and each top-level property becomes a column of the output (a schema
            without properties: one `parsed` column); `text` is kept beside them.
        defaults: Messages API fields merged under every request, e.g. {"max_tokens": 256}.
        credentials: The provider's credentials block (e.g. AnthropicCredentials) or its
            saved name (e.g. anthropic); empty: the provider's env var (ANTHROPIC_API_KEY)
            where the flow runs.
        idempotency_key: Makes the batch durable across flow runs (e.g. the date of a
            nightly run); without it a retry of this flow run still resumes its batch.
        poll_interval: Seconds between the first polls of the batch; later polls spread out.
        max_attempts: How many times a request may be sent in all: the requests that
            failed for a passing reason (expired, overloaded) go again, up to this; 1: once.
        allow_failed: Fail the run (after the results file is written) when more requests
            than this are left failing: below 1 a fraction, from 1 up a count; empty: never.

    Returns:
        The path of the results file, in the input's format: one row per input row, in
        input order, with the input's columns, then custom_id (if the input had none),
        status, text, the parsed columns (with output), error, attempts, the usage counts
        and cost_usd.

    Examples:
        Batch a CSV whose prompts are in a `question` column; its other columns (an `id`,
        a `topic`) come back unchanged beside each answer:
        ```python
        from flows.prompts_file import batch_prompts_file

        written = batch_prompts_file(
            "/data/questions.csv", prompt_field="question", credentials="anthropic"
        )
        # /data/questions.csv.results.csv: id,question,topic,custom_id,status,text,...
        ```
    """
    source = Path(path).expanduser().absolute()
    typed = typed_columns(output)  # a property named like a result column fails here
    table = read_table(source, prompt_field, carry=carry or (), reserved=result_columns(typed))
    check_writable(output_path(source))  # before the batch is paid for, not after
    # run_batch.fn runs the batch's tasks inside this flow run instead of as a subflow, whose
    # parameters (every request) would have to fit the Prefect API's 512 KiB limit.
    try:
        results = run_batch.fn(
            model=model,
            requests=list(table.requests),
            defaults=defaults,
            credentials=credentials,
            idempotency_key=idempotency_key,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            allow_failed=allow_failed,
            output=output,
        )
    except IncompleteResultsError as incomplete:
        # the table is still written, holes and all, before the run fails
        write_results(table, incomplete.results, typed)
        raise
    target = write_results(table, results, typed)
    get_run_logger().info("Wrote %d results to %s", len(table.requests), target)
    return str(target)
