"""Benchmarks of batchwork-prefect against its peers, run with `python -m bench`.

Every measured case runs in a fresh child process (`bench.child`) against the built-in
emulator, which serves from the parent; `bench.suite` drives the cases and `bench.report`
writes BENCHMARKS.md.
"""
