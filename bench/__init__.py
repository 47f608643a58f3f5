"""Benchmarks of batchwork-prefect against its peers, run with `python -m bench`.

Every measured case runs in a fresh child process (`bench.child`) against the built-in
emulator, which serves from the parent; the child times the case's import and its run apart.
`bench.workloads` makes the data, `bench.cases` holds one function per operation and peer
(`bench.openai_workloads` and `bench.openai_cases` the same for the OpenAI rows),
`bench.persisted` persists results as the Prefect layer does, `bench.steps` and
`bench.imports` split the read, load and import paths into steps, `bench.rounds` times a
retry round of `run_batch` against one round, `bench.suite` drives the
cases and `bench.report` writes BENCHMARKS.md (docs/benchmarks.md explains the method).
"""
