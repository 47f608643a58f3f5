"""`python -m batchwork_prefect.cli`, the same as `batchwork-prefect`."""

from batchwork_prefect.cli import main

main()
