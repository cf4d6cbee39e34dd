"""Runtime: choosing and opening a backend and the state store for the front ends.

The simulated backend's world is kept in the store between commands (so
``netlab up --backend sim`` then ``netlab status`` work as separate processes);
the kernel backend's world is the kernel itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from netlab.backends import Backend
from netlab.errors import InvalidRequestError, NotSupportedError
from netlab.store import SqliteStore, default_state_dir

__all__ = ["BACKENDS", "default_backend", "open_backend", "open_store", "save_backend"]

logger = logging.getLogger(__name__)

BACKENDS = ("sim", "kernel")
_SIM_WORLD = ("__simulated__", "world")


def open_store(state_dir: str | Path | None = None) -> SqliteStore:
    """The store of ``state_dir`` (default: :func:`netlab.store.default_state_dir`)."""
    return SqliteStore(Path(state_dir or default_state_dir()) / "netlab.db")


def default_backend() -> tuple[str, str | None]:
    """``("kernel", None)`` as root, else ``("sim", notice)``."""
    if os.geteuid() == 0:
        return "kernel", None
    return "sim", "not root: using the simulated backend (--backend kernel needs root)"


def open_backend(kind: str, store: SqliteStore) -> Backend:
    """A backend by name: ``sim`` (its world loaded from ``store``) or ``kernel`` (probed first)."""
    if kind == "sim":
        from netlab.backends.simulated import SimulatedBackend

        world = store.get_blob(*_SIM_WORLD)
        return SimulatedBackend.from_dict(world) if world else SimulatedBackend()
    if kind == "kernel":
        from netlab.backends.kernel import KernelBackend

        reason = KernelBackend.probe()
        if reason is not None:
            raise NotSupportedError(f"the kernel backend cannot run here: {reason}")
        return KernelBackend()
    raise InvalidRequestError(f"unknown backend {kind!r}; choose one of: {', '.join(BACKENDS)}")


def save_backend(backend: Backend, store: SqliteStore) -> None:
    """Persist the simulated world (no-op for the kernel backend)."""
    to_dict = getattr(backend, "to_dict", None)
    if backend.name == "simulated" and to_dict is not None:
        store.put_blob(*_SIM_WORLD, to_dict())
