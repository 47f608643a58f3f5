"""Benchmarks of batchwork-prefect against its peers, run with `python -m bench`.

Every measured case runs in a fresh child process (`bench.child`) against the built-in
emulator, which serves from the parent; the child times the case's import and its run apart.
`bench.workloads` makes the data, `bench.cases` holds one function per operation and peer
(`bench.openai_workloads` and `bench.openai_cases` the same for the OpenAI rows),
`bench.persisted` persists results as the Prefect layer does, `bench.steps` and
`bench.imports` split the read, load and import paths into steps, `bench.rounds` times a
retry round of `run_batch` against one round. `bench.children` holds what every section
shares (run options, measured rows, `spawn` and `measure`), `bench.suite` runs the sections
in order and `bench.report` writes BENCHMARKS.md from `report_template.md`, with
`bench.goal`, `bench.tables` and `bench.formatting` for what the sections' reports share
(docs/benchmarks.md explains the method).

Each section keeps its results type and runner in one module and its limits, goals and
tables in another: `anthropic_suite`/`anthropic_report` (read, load, submit),
`openai_suite`/`openai_report`, `imports`/`imports_report`, `flow_suite`/`flow_report`
(orchestration, polling; and the retry rounds' goal and table), `release`/`release_report`,
`typed`/`typed_report`; `provider_report` holds the read vs raw floor goal of the
Together, xAI, Gemini and Mistral sections. A new provider's section goes in
`<provider>_workloads.py`, `<provider>_cases.py` (its cases, added to `children.ALL_CASES`
and to `bench.child`), `<provider>_suite.py` (its results type and runner) and
`<provider>_report.py` (its limits, goals and tables); then wire it into
`suite.SuiteResults`, `suite.not_run` and `suite.run_suite`, into `report.goals` and
`report.fields`, and give it a section in `report_template.md`.
"""
