"""Every exception lives in errors.py, derives from BatchworkError and is exported."""

from __future__ import annotations

import inspect

import batchwork_prefect
from batchwork_prefect import errors


def _defined_in_errors() -> set[str]:
    return {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and value.__module__ == errors.__name__
    }


def test_every_exception_is_a_batchwork_error_and_exported() -> None:
    names = _defined_in_errors()
    assert "BatchworkError" in names and len(names) > 15
    for name in names:
        assert issubclass(getattr(errors, name), errors.BatchworkError), name
        assert name in batchwork_prefect.__all__, name
        assert getattr(batchwork_prefect, name) is getattr(errors, name)


def test_no_exception_is_defined_outside_errors_py() -> None:
    import pkgutil
    from importlib import import_module

    strays = []
    for module in pkgutil.walk_packages(batchwork_prefect.__path__, "batchwork_prefect."):
        if module.name.startswith("batchwork_prefect.emulator") or module.name == errors.__name__:
            continue  # the emulator is walled off: its own (server-side) errors
        for name, value in vars(import_module(module.name)).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.name
            ):
                strays.append(f"{module.name}.{name}")
    assert strays == []


def test_a_configuration_error_is_also_a_value_error() -> None:
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.InvalidBatchError, ValueError)
