"""Crash matrix: flows on a real `prefect server start` with process workers, SIGKILLed."""
