"""Namespace hosts files: ``write_hosts`` on both backends, and ``getent hosts`` answering from them.

The simulator's answers follow glibc's rules (:mod:`netlab.backends.hostsfile`); the kernel tests run the
real ``getent`` through ``ip netns exec`` and check both backends print the same. Kernel namespaces are
``nl-kbt<pid>-...`` (:class:`tests.test_backend_kernel.Lab`) or a deployed lab's, always removed.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from netlab.backends import CreateNamespace, DeleteNamespace, ExecResult, SetUp
from netlab.backends import netns as nsutil
from netlab.backends.hostsfile import ETC_NETNS_DIR, check_entries, getent_hosts, render
from netlab.backends.kernel import KernelBackend
from netlab.backends.simulated import SimulatedBackend
from netlab.errors import BackendError, InvalidRequestError, NotSupportedError
from tests.kernel_helpers import topology
from tests.test_backend_kernel import Lab

ENTRIES: list[tuple[str, Sequence[str]]] = [("10.0.0.2", ["web", "www"]), ("10.0.0.3", ["db"])]
#: the corner cases of glibc's files backend (multi on): several lines per name, IPv6 first, ::1 and v4-mapped
TRICKY: list[tuple[str, Sequence[str]]] = [
    ("10.1.2.3", ["alpha", "a1"]), ("10.1.2.5", ["x", "Alpha", "a2", "a1"]), ("10.1.2.3", ["alpha"]),
    ("10.9.9.9", ["b"]), ("fd00::1", ["b", "bee"]), ("10.0.0.4", ["q", "alpha", "Q"]), ("::1", ["six"]),
    ("::ffff:10.0.0.7", ["mapped"]), ("127.0.0.1", ["localhost"]),
]
TRICKY_KEYS = ["alpha", "ALPHA", "x", "a1", "A2", "b", "bee", "q", "six", "mapped", "localhost", "10.1.2.3",
               "10.1.2.5", "fd00::1", "fd00:0::0001", "127.0.0.1", "::1", "10.0.0.7", "::ffff:10.0.0.7", "nothere",
               "10.9.9.8"]


# -- entries and glibc's lookup -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("entries", "words"), [
    ([("10.0.0.300", ["a"])], "'10.0.0.300' is not an IPv4 or IPv6 address"),
    ([("fe80::1%eth0", ["a"])], "is not an IPv4 or IPv6 address"),
    ([("10.0.0.1", [])], "names must be a non-empty list"),
    ([("10.0.0.1", "web")], "names must be a non-empty list"),
    ([("10.0.0.1", ["ok"]), ("10.0.0.2", ["two words"])], "hosts entry 1 (10.0.0.2): 'two words' is not a host name"),
    ([("10.0.0.1", ["#comment"])], "is not a host name"),
    ([("10.0.0.1",)], "hosts entry 0: expected (address, names)"),
])
def test_bad_entries_are_refused_naming_the_entry(entries: Any, words: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_entries(entries)
    assert words in str(caught.value)


def test_entries_are_written_one_line_each_in_order() -> None:
    entries = check_entries([("fd00:0::1", ["six"]), *ENTRIES])
    assert entries == [("fd00::1", ("six",)), ("10.0.0.2", ("web", "www")), ("10.0.0.3", ("db",))]
    assert render(entries) == "# written by netlab\nfd00::1 six\n10.0.0.2 web www\n10.0.0.3 db\n"


@pytest.mark.parametrize(("keys", "code", "out"), [
    (["alpha"], 0, ["10.1.2.3        alpha a1 Alpha a2 a1 x alpha Q q"] * 1 + [
        "10.1.2.5        alpha a1 Alpha a2 a1 x alpha Q q", "10.1.2.3        alpha a1 Alpha a2 a1 x alpha Q q",
        "10.0.0.4        alpha a1 Alpha a2 a1 x alpha Q q"]),
    (["x"], 0, ["10.1.2.5        x Alpha a2 a1"]),
    (["b"], 0, ["fd00::1         b bee"]),                      # IPv6 first: the IPv4 line of b is not shown
    (["10.1.2.3"], 0, ["10.1.2.3        alpha a1"]),            # by address: the first line only
    (["fd00:0::0001"], 0, ["fd00::1         b bee"]),
    (["127.0.0.1"], 0, ["127.0.0.1       six"]),                # glibc reads ::1 as 127.0.0.1 for IPv4
    (["10.0.0.7"], 0, ["10.0.0.7        mapped"]),
    (["mapped"], 0, ["::ffff:10.0.0.7 mapped"]),
    (["x", "nothere", "b"], 2, ["10.1.2.5        x Alpha a2 a1"]),   # stops at the first key not found
])
def test_getent_follows_glibc(keys: list[str], code: int, out: list[str]) -> None:
    assert getent_hosts(check_entries(TRICKY), keys) == ExecResult(code, "".join(f"{line}\n" for line in out), "")


# -- simulated backend --------------------------------------------------------------------------------------------
def test_simulated_hosts_file_answers_getent_persists_and_goes_with_the_namespace() -> None:
    backend = SimulatedBackend()
    backend.apply([CreateNamespace("web"), CreateNamespace("other")])
    assert backend.exec("web", ["getent", "hosts", "db"]) == ExecResult(2, "", "")   # no hosts file yet
    backend.write_hosts("web", ENTRIES)
    assert backend.exec("web", ["getent", "hosts", "WWW", "db"]) == ExecResult(
        0, "10.0.0.2        web www\n10.0.0.3        db\n", "")
    assert backend.exec("other", ["getent", "hosts", "db"]).returncode == 2     # per namespace
    copy = SimulatedBackend.from_dict(backend.to_dict())
    assert copy.exec("web", ["getent", "hosts", "web"]).stdout == "10.0.0.2        web www\n"
    backend.write_hosts("web", [("10.0.0.9", ["db"])])                          # replaces the whole file
    assert backend.exec("web", ["getent", "hosts", "db"]).stdout == "10.0.0.9        db\n"
    assert backend.exec("web", ["getent", "hosts", "web"]).returncode == 2
    backend.apply([DeleteNamespace("web"), CreateNamespace("web")])
    assert backend.exec("web", ["getent", "hosts", "db"]).returncode == 2     # a new namespace has none


def test_simulated_write_hosts_errors() -> None:
    backend = SimulatedBackend()
    with pytest.raises(BackendError) as caught:
        backend.write_hosts("missing", ENTRIES)
    assert caught.value.errno == errno.ENOENT and "'missing'" in str(caught.value)
    backend.apply([CreateNamespace("web")])
    with pytest.raises(InvalidRequestError):
        backend.write_hosts("web", [("nope", ["a"])])
    with pytest.raises(NotSupportedError, match="getent hosts NAME"):
        backend.exec("web", ["getent", "hosts"])
    with pytest.raises(BackendError) as caught:
        backend.exec("missing", ["getent", "hosts", "a"])
    assert caught.value.errno == errno.ENOENT


# -- kernel backend -----------------------------------------------------------------------------------------------
@pytest.fixture
def lab(kernel_ok: None, request: pytest.FixtureRequest) -> Iterator[Lab]:
    the_lab = Lab(KernelBackend(), "h" + format(abs(hash(request.node.name)) % 0xFFFFF, "x"))
    try:
        yield the_lab
    finally:
        the_lab.cleanup()
    assert all(not os.path.exists(f"{ETC_NETNS_DIR}/{name}") for name in the_lab.names)


@pytest.mark.kernel
def test_kernel_hosts_file_answers_getent_and_goes_with_the_namespace(lab: Lab) -> None:
    machine_hosts = Path("/etc/hosts").read_text()
    web, plain = lab.ns("web"), lab.ns("plain")
    lab.backend.apply([CreateNamespace(web), SetUp(web, "lo"), CreateNamespace(plain)])
    lab.backend.write_hosts(web, ENTRIES)
    assert Path(f"{ETC_NETNS_DIR}/{web}/hosts").read_text() == render(check_entries(ENTRIES))
    assert lab.backend.exec(web, ["getent", "hosts", "WWW", "db"]) == ExecResult(
        0, "10.0.0.2        web www\n10.0.0.3        db\n", "")
    assert lab.backend.exec(web, ["getent", "hosts", "cache"], timeout=10) == ExecResult(2, "", "")
    lab.backend.write_hosts(web, [("10.0.0.9", ["db"])])
    assert lab.backend.exec(web, ["getent", "hosts", "db"]).stdout == "10.0.0.9        db\n"
    assert lab.backend.exec(web, ["getent", "hosts", "web"], timeout=10).returncode == 2
    assert lab.backend.exec(plain, ["cat", "/etc/hosts"]).stdout == machine_hosts   # other namespaces: untouched
    assert Path("/etc/hosts").read_text() == machine_hosts

    with pytest.raises(BackendError) as caught:
        lab.backend.write_hosts(lab.ns("missing"), ENTRIES)
    assert caught.value.errno == errno.ENOENT
    with pytest.raises(InvalidRequestError):
        lab.backend.write_hosts(web, [("10.0.0.1", ["bad name"])])
    lab.backend.apply([DeleteNamespace(web)])
    assert not os.path.exists(f"{ETC_NETNS_DIR}/{web}") and nsutil.namespace_identity(web) is None


@pytest.mark.kernel
def test_a_fresh_backend_deleting_the_namespace_removes_its_files(lab: Lab) -> None:
    ns = lab.ns("web")
    lab.backend.apply([CreateNamespace(ns)])
    lab.backend.write_hosts(ns, ENTRIES)
    with KernelBackend() as fresh:   # no socket open: deletes without the worker thread, as `netlab down` does
        fresh.apply([DeleteNamespace(ns), DeleteNamespace(ns)])
    assert not os.path.exists(f"{ETC_NETNS_DIR}/{ns}")


@pytest.mark.kernel
def test_kernel_getent_agrees_with_the_simulator(lab: Lab) -> None:
    ns = lab.ns("box")
    lab.backend.apply([CreateNamespace(ns), SetUp(ns, "lo")])
    lab.backend.write_hosts(ns, TRICKY)
    simulated = SimulatedBackend()
    simulated.apply([CreateNamespace(ns)])
    simulated.write_hosts(ns, TRICKY)
    for key in TRICKY_KEYS:
        assert lab.backend.exec(ns, ["getent", "hosts", key], timeout=10) == simulated.exec(
            ns, ["getent", "hosts", key]), key


@pytest.mark.kernel
def test_deployed_sandboxes_resolve_each_other_and_down_leaves_no_files(
        deploy: Callable[[Any], Any]) -> None:
    topo = topology("hosts: [h1, h2]\nnetworks:\n  front: {subnet: 10.77.8.0/24}\n  ov: {driver: overlay}\n"
                    "containers:\n  a: {host: h1, networks: [front]}\n  b: {host: h1, networks: [front]}\n"
                    "  c: {host: h2, networks: [ov]}\n")
    controller = deploy(topo)
    names = {s: controller.sandbox_namespace(s) for s in ("a", "b", "c")}
    for sandbox, ns in names.items():   # each sandbox lists the others, as the scenario harness will
        controller.backend.write_hosts(ns, [(f"10.77.8.{9 + i}", [other]) for i, other in enumerate(names)
                                            if other != sandbox])
    assert controller.backend.exec(names["a"], ["getent", "hosts", "c"], timeout=10).stdout == f"{'10.77.8.11':<15} c\n"
    answer = controller.backend.exec(names["c"], ["getent", "hosts", "b"], timeout=10)
    assert answer == ExecResult(0, "10.77.8.10      b\n", "")
    assert controller.backend.exec(names["c"], ["getent", "hosts", "c"], timeout=10).returncode == 2
    controller.down()
    assert not any(os.path.exists(f"{ETC_NETNS_DIR}/{ns}") for ns in names.values())
