"""A backend wrapper that remembers the steps it ran: what each CNM verb did to the kernel, for teaching and tests.

>>> from netlab.backends.simulated import SimulatedBackend
>>> from netlab.backends import CreateNamespace
>>> rec = RecordingBackend(SimulatedBackend())
>>> rec.apply([CreateNamespace("nl-demo-s-web")])
>>> [describe(step) for step in rec.take()]
['CreateNamespace  nl-demo-s-web']
>>> rec.take()
[]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from netlab.backends import Backend, ExecResult, Snapshot, Step, step_to_dict

__all__ = ["RecordingBackend", "describe", "steps_table"]

#: fields shown first, in this order, when a step is put in words
_LEADING = ("ns", "name", "kind")


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return f"<{len(value.get('nftables', value))} nft commands>"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def describe(step: Step) -> str:
    """One line: the step's type, its namespace and object, then its other set fields as ``key=value``."""
    data = step_to_dict(step)
    kind = data.pop("step")
    lead = [_value(data.pop(key)) for key in _LEADING if data.get(key) not in (None, "")]
    rest = [f"{key}={_value(value)}" for key, value in data.items() if value not in (None, "", (), [], {})]
    return "  ".join([kind, *lead, *rest]) if lead or rest else kind


def steps_table(steps: Iterable[Step]) -> list[tuple[str, str, str]]:
    """``(step type, namespace, the rest in words)`` rows for a table."""
    rows = []
    for step in steps:
        data = step_to_dict(step)
        kind, ns = data.pop("step"), str(data.pop("ns", "") or "")
        rows.append((kind, ns, "  ".join(f"{k}={_value(v)}" for k, v in data.items()
                                          if v not in (None, "", (), [], {}))))
    return rows


class RecordingBackend:
    """Runs steps on ``inner`` and keeps every step it was given (a failed batch's too, as given)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.steps: list[Step] = []

    def apply(self, steps: Sequence[Step]) -> None:
        self.steps.extend(steps)
        self.inner.apply(steps)

    def take(self) -> list[Step]:
        """The steps recorded since the last call, and forget them."""
        taken, self.steps = self.steps, []
        return taken

    def namespaces(self) -> list[str]:
        return self.inner.namespaces()

    def snapshot(self, namespaces: Iterable[str]) -> Snapshot:
        return self.inner.snapshot(namespaces)

    def exec(self, ns: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        return self.inner.exec(ns, argv, timeout)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        """Anything else (``write_hosts``, ``to_dict``, ...) is the inner backend's."""
        return getattr(self.inner, name)
