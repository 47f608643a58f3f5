"""`python -m batchwork_prefect.cli`, the same as `batchwork-prefect`."""

from batchwork_prefect.cli import main

if __name__ == "__main__":  # imported (a module walk), it runs nothing
    main()
