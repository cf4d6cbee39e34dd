"""SqliteStore across threads."""

from __future__ import annotations

import threading
from pathlib import Path

from netlab.store import SqliteStore


def test_the_store_is_usable_from_other_threads(tmp_path: Path) -> None:
    """Jupyter runs widget callbacks on other threads than the cell that opened the lab."""
    store = SqliteStore(tmp_path / "netlab.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.save_lab(f"lab{n}-{i}", "simulated")
                store.put_blob(f"lab{n}-{i}", "world", {"n": i})
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(store.labs()) == 80
    assert store.get_blob("lab3-19", "world") == {"n": 19}
    store.close()
