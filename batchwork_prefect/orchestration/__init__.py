"""Everything Prefect: credentials blocks, tasks, the run_batch flow, persistence, automations."""
