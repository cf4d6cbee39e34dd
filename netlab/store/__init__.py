"""Store: where a lab's deployed state and its journal live (see :mod:`netlab.store.sqlite`)."""

from __future__ import annotations

from netlab.store.sqlite import ObjectRecord, SqliteStore, default_state_dir

__all__ = ["ObjectRecord", "SqliteStore", "default_state_dir"]
