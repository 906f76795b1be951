"""Every error the library raises on purpose derives from one root; retryable ones carry ``Transient``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import paytrace_sl
from paytrace_sl.errors import PaytraceSlError, Transient, is_transient

# The sandbox (its server's ApiError is an HTTP answer inside the stand-in server, never raised to a
# caller) is a separate package, paytrace_sl_sandbox, which this walk of paytrace_sl does not reach.
NOT_LIBRARY: tuple[str, ...] = ()


def _library_exception_classes() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(paytrace_sl.__path__, "paytrace_sl."):
        if info.name.startswith(NOT_LIBRARY):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found.append(obj)
    return found


def test_every_library_exception_derives_from_the_root() -> None:
    classes = _library_exception_classes()
    assert len(classes) >= 30  # the walk really found the library's classes
    strays = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, PaytraceSlError))
    assert strays == []


def test_historic_builtin_bases_are_kept() -> None:
    from paytrace_sl.pipeline.yamlsource import ConfigFileError
    from paytrace_sl.settings import ConfigurationError
    from paytrace_sl.sl.writer import PreflightFailed, WriterError

    assert issubclass(ConfigurationError, ValueError) and issubclass(ConfigFileError, ValueError)
    assert issubclass(PreflightFailed, WriterError) and issubclass(WriterError, RuntimeError)


@pytest.mark.parametrize(
    ("name", "transient"),
    [
        ("PayTraceRateLimitedError", True),
        ("PayTraceServerError", True),
        ("PayTraceTimeoutError", True),
        ("PayTraceConnectionError", True),
        ("PayTraceMalformedResponseError", True),
        ("PayTraceAuthError", False),
        ("PayTraceHTTPError", False),
        ("RecordParseError", False),
    ],
)
def test_paytrace_errors_carry_the_transient_marker_when_retryable(name: str, transient: bool) -> None:
    from paytrace_sl.paytrace import errors

    cls = getattr(errors, name)
    assert issubclass(cls, errors.PayTraceError) and issubclass(cls, PaytraceSlError)
    assert issubclass(cls, Transient) is transient


def test_transient_can_be_caught_and_tested() -> None:
    from paytrace_sl.paytrace.errors import PayTraceTimeoutError

    with pytest.raises(Transient):
        raise PayTraceTimeoutError("read timeout", attempts=3)
    assert is_transient(PayTraceTimeoutError("x")) and not is_transient(PaytraceSlError("x"))
