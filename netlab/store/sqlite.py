"""SQLite store: deployed objects per lab, with a journal written before the kernel is touched.

One database file holds every lab of a state directory (``:memory:`` in unit
tests). Tables:

* ``labs``: name, backend, source file, the deployed model and addressing (JSON);
* ``objects``: per lab, each kernel object group netlab made (key, kind, spec,
  the namespaces it lives in, status ``pending`` or ``done``), in creation order;
* ``journal``: an append-only history of intents and outcomes;
* ``blobs``: opaque per-lab data (the simulated backend's world).

Protocol for every object: :meth:`SqliteStore.begin` records it as ``pending``
with its namespaces and commits *before* the backend runs its steps;
:meth:`SqliteStore.done` marks it after. A deploy killed at any point therefore
leaves every namespace it may have created on record: ``down`` removes them,
and ``up`` first undoes the pending objects and then finishes the job.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["ObjectRecord", "SqliteStore", "default_state_dir"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS labs (
    name TEXT PRIMARY KEY, backend TEXT NOT NULL, source TEXT, model TEXT, addressing TEXT, updated REAL
);
CREATE TABLE IF NOT EXISTS objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, lab TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL,
    spec TEXT NOT NULL, namespaces TEXT NOT NULL, status TEXT NOT NULL, UNIQUE (lab, key)
);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, lab TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,
    status TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS blobs (lab TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (lab, name));
"""


def default_state_dir() -> Path:
    """``$NETLAB_STATE_DIR``, else ``/run/netlab`` for root (gone at reboot, like namespaces),
    else ``$XDG_STATE_HOME/netlab`` (``~/.local/state/netlab``)."""
    if os.environ.get("NETLAB_STATE_DIR"):
        return Path(os.environ["NETLAB_STATE_DIR"])
    if os.geteuid() == 0:
        return Path("/run/netlab")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "netlab"


@dataclass(frozen=True, slots=True)
class ObjectRecord:
    key: str
    kind: str
    spec: Any
    namespaces: tuple[str, ...]
    status: str


_M = TypeVar("_M", bound=Callable[..., Any])


def _locked(method: _M) -> _M:
    """Run ``method`` holding the store's lock (SQLite's connection is shared by threads, one call at a time)."""

    @functools.wraps(method)
    def wrapper(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class SqliteStore:
    """Keyed records per lab in one SQLite file (stdlib ``sqlite3``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self._lock = threading.RLock()   # one connection, usable from any thread (widget callbacks), one at a time
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL" if self.path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @_locked
    def close(self) -> None:
        self._db.close()

    # -- labs -------------------------------------------------------------------
    @_locked
    def labs(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT name FROM labs ORDER BY name")]

    @_locked
    def lab(self, name: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT backend, source, model, addressing FROM labs WHERE name = ?",
                               (name,)).fetchone()
        if row is None:
            return None
        return {"name": name, "backend": row[0], "source": row[1],
                "model": json.loads(row[2]) if row[2] else None,
                "addressing": json.loads(row[3]) if row[3] else None}

    @_locked
    def save_lab(self, name: str, backend: str, source: str | None = None, model: Any = None,
                 addressing: Any = None) -> None:
        self._db.execute(
            "INSERT INTO labs (name, backend, source, model, addressing, updated) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET backend = excluded.backend, "
            "source = COALESCE(excluded.source, labs.source), model = excluded.model, "
            "addressing = excluded.addressing, updated = excluded.updated",
            (name, backend, source, json.dumps(model) if model is not None else None,
             json.dumps(addressing) if addressing is not None else None, time.time()))

    @_locked
    def forget_lab(self, name: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            for table in ("labs", "objects", "blobs"):
                column = "name" if table == "labs" else "lab"
                self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (name,))  # noqa: S608
            self._db.execute("INSERT INTO journal (lab, key, action, status, at) VALUES (?, '*', 'forget', "
                             "'done', ?)", (name, time.time()))

    # -- objects ----------------------------------------------------------------
    @_locked
    def objects(self, lab: str) -> list[ObjectRecord]:
        rows = self._db.execute("SELECT key, kind, spec, namespaces, status FROM objects WHERE lab = ? "
                                "ORDER BY seq", (lab,))
        return [ObjectRecord(key, kind, json.loads(spec), tuple(json.loads(ns)), status)
                for key, kind, spec, ns, status in rows]

    @_locked
    def begin(self, lab: str, key: str, kind: str, spec: Any, namespaces: tuple[str, ...]) -> None:
        """Record intent to create ``key`` (status pending), committed before any kernel step."""
        self.begin_many(lab, [(key, kind, spec, namespaces)])

    @_locked
    def begin_many(self, lab: str, items: list[tuple[str, str, Any, tuple[str, ...]]]) -> None:
        """Record intent for several ``(key, kind, spec, namespaces)`` in one transaction."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO objects (lab, key, kind, spec, namespaces, status) VALUES (?, ?, ?, ?, ?, 'pending') "
                "ON CONFLICT(lab, key) DO UPDATE SET kind = excluded.kind, spec = excluded.spec, "
                "namespaces = excluded.namespaces, status = 'pending'",
                [(lab, key, kind, json.dumps(spec, sort_keys=True), json.dumps(list(namespaces)))
                 for key, kind, spec, namespaces in items])
            self._journal_many(lab, [key for key, *_ in items], "create", "intent")

    @_locked
    def done(self, lab: str, key: str) -> None:
        self.done_many(lab, [key])

    @_locked
    def done_many(self, lab: str, keys: list[str]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE objects SET status = 'done' WHERE lab = ? AND key = ?",
                                 [(lab, key) for key in keys])
            self._journal_many(lab, keys, "create", "done")

    @_locked
    def removing(self, lab: str, key: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("UPDATE objects SET status = 'pending' WHERE lab = ? AND key = ?", (lab, key))
            self._journal(lab, key, "delete", "intent")

    @_locked
    def removed(self, lab: str, key: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM objects WHERE lab = ? AND key = ?", (lab, key))
            self._journal(lab, key, "delete", "done")

    @_locked
    def _journal(self, lab: str, key: str, action: str, status: str) -> None:
        self._journal_many(lab, [key], action, status)

    @_locked
    def _journal_many(self, lab: str, keys: list[str], action: str, status: str) -> None:
        now = time.time()
        self._db.executemany("INSERT INTO journal (lab, key, action, status, at) VALUES (?, ?, ?, ?, ?)",
                             [(lab, key, action, status, now) for key in keys])

    @_locked
    def journal(self, lab: str, limit: int = 50) -> list[tuple[str, str, str]]:
        rows = self._db.execute("SELECT key, action, status FROM journal WHERE lab = ? ORDER BY seq DESC LIMIT ?",
                                (lab, limit))
        return [(key, action, status) for key, action, status in rows][::-1]

    # -- blobs ------------------------------------------------------------------
    @_locked
    def get_blob(self, lab: str, name: str) -> Any:
        row = self._db.execute("SELECT data FROM blobs WHERE lab = ? AND name = ?", (lab, name)).fetchone()
        return json.loads(row[0]) if row else None

    @_locked
    def put_blob(self, lab: str, name: str, data: Any) -> None:
        self._db.execute("INSERT INTO blobs (lab, name, data) VALUES (?, ?, ?) ON CONFLICT(lab, name) "
                         "DO UPDATE SET data = excluded.data", (lab, name, json.dumps(data)))
