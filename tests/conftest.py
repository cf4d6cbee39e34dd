"""Shared fixtures: kernel availability (skips locally, fails in CI), root-namespace guard."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/forwarding",
    "net/bridge/bridge-nf-call-iptables",
    "net/ipv4/neigh/default/gc_thresh1",
    "net/ipv4/neigh/default/gc_thresh3",
    "net/core/rmem_max",
)


def _kernel_reason() -> str | None:
    try:
        from netlab.backends.kernel import KernelBackend
    except ImportError as exc:  # pyroute2 missing
        return f"cannot import the kernel backend: {exc}"
    return KernelBackend.probe()


@pytest.fixture(scope="session")
def kernel_reason() -> str | None:
    return _kernel_reason()


@pytest.fixture
def kernel_ok(kernel_reason: str | None) -> None:
    """Skip a kernel test where namespaces cannot be made; in CI that is a failure, not a skip."""
    if kernel_reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"kernel tests must run in CI, but: {kernel_reason}")
        pytest.skip(kernel_reason)


def _run(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30).stdout
    except FileNotFoundError:
        return ""


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_volatile(v) for k, v in value.items()
                if k not in ("stats", "stats64", "counter", "handle", "txqlen", "operstate", "linkmode")}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def root_namespace_state() -> dict[str, Any]:
    """Links, addresses, routes, nft ruleset and the sysctls netlab could touch, of the machine's namespace."""
    state: dict[str, Any] = {}
    for name, argv in (("links", ("ip", "-j", "link")), ("addresses", ("ip", "-j", "addr")),
                       ("routes", ("ip", "-j", "route", "show", "table", "all")),
                       ("nft", ("nft", "-j", "list", "ruleset"))):
        text = _run(*argv)
        try:
            state[name] = _strip_volatile(json.loads(text)) if text.strip() else None
        except json.JSONDecodeError:
            state[name] = text
    for key in ROOT_SYSCTLS:
        path = Path("/proc/sys") / key
        state[key] = path.read_text().strip() if path.exists() else None
    return state


@pytest.fixture(scope="session", autouse=True)
def root_namespace_untouched() -> Iterator[None]:
    """The whole suite leaves the machine's own namespace exactly as it found it."""
    if os.geteuid() != 0:
        yield
        return
    before = root_namespace_state()
    yield
    after = root_namespace_state()
    changed = sorted(key for key in before if before[key] != after[key])
    assert not changed, f"the test suite changed the root namespace: {changed}"


@pytest.fixture
def deploy(tmp_path: Path) -> Iterator[Callable[[Any], Any]]:
    """Deploy topologies on the kernel; every lab is taken down afterwards and checked for leftovers."""
    from netlab.backends.kernel import KernelBackend
    from netlab.controller import Controller
    from netlab.store import SqliteStore
    from tests.kernel_helpers import lab_namespaces

    backend = KernelBackend()
    store = SqliteStore(tmp_path / "state.db")
    labs: list[str] = []

    def up(topo: Any) -> Controller:
        controller = Controller(topo.name, backend, store)
        if topo.name not in labs:
            labs.append(topo.name)
        controller.up(topo)
        return controller

    try:
        yield up
    finally:
        for lab in labs:
            Controller(lab, backend, store).down()
        backend.close()
        store.close()
        leaked = [ns for lab in labs for ns in lab_namespaces(lab)]
        assert not leaked, f"namespaces left behind: {leaked}"

