"""Kernel backend: runs steps with pyroute2 netlink and ``nft -j`` inside named network namespaces.

Design
------
* **Namespaces without a fork** (:mod:`netlab.backends.netns`): a throwaway
  thread calls ``unshare(CLONE_NEWNET)``, bind-mounts its
  ``/proc/thread-self/ns/net`` on ``/run/netns/NAME`` (iproute2's layout, so
  ``ip netns`` and ``nsenter`` see it), opens a netlink socket there and exits;
  a run of ``CreateNamespace`` steps is done by one such thread. An existing
  namespace gets its socket through ``setns`` in a throwaway thread. Each of
  these threads checks it is not in the machine's namespace before it creates
  anything.
* **One socket per namespace, one worker thread** (:class:`~netlab.backends.netns.NetlinkPool`):
  each socket is wrapped in a :class:`~netlab.backends.rtnl.Channel`, cached and
  reused until ``DeleteNamespace`` or :meth:`KernelBackend.close`. A channel
  sends one request at a time, encoded by pyroute2's message classes, and reads
  its ack before the next (no asyncio, no per-request keyword filters). It
  refuses to run on any thread but its creator's, so all netlink work
  runs on the pool's worker thread; :meth:`~KernelBackend.apply` and
  :meth:`~KernelBackend.snapshot` hand it whole step lists, from any thread. The
  worker never changes namespace and never opens a socket.
* Every step re-checks ``/run/netns/NAME`` (device and inode of the nsfs mount)
  against the cached socket, so a namespace deleted or re-created behind the
  backend's back is noticed. The machine's own namespace, even if mounted under
  ``/run/netns``, is refused (``EPERM``).
* A veth pair is one ``RTM_NEWLINK`` sent in ``ns`` that also enslaves and
  raises it and places the peer with ``IFLA_NET_NS_FD``: the peer is born in
  ``peer_ns``. A vxlan (its UDP socket stays in ``ns``, the device is born in
  ``target_ns``) and a macvlan are made the same way. Interface indexes are
  remembered within one :meth:`~KernelBackend.apply` call only: those of the
  bridges and veths (both ends) the call creates come from the kernel's echo of
  the create request (``NLM_F_ECHO``; a veth's ``IFLA_LINK`` is its peer's index
  in the peer namespace), any other one is looked up once (``RTM_GETLINK``);
  they are tied to the namespace instance (its nsfs inode) and a
  ``DeleteLink`` or ``DeleteNamespace`` drops them all. The netlink step handlers live in
  :mod:`netlab.backends.kernel_steps`, which also says how FDB and neighbour
  entries are made and read back; :mod:`netlab.backends.rtnl` builds and sends
  the requests.
* sysctls are written by a throwaway thread that joined the namespace (only
  per-namespace ``net.*`` keys); such a thread also starts ``nft -j -f -`` to
  apply a ruleset (the child is born in the thread's namespace; atomic; every nft
  failure is ``EINVAL``, with nft's message). Reading rulesets back runs
  ``nsenter --net=/run/netns/NS`` subprocesses; :meth:`~KernelBackend.exec` too, or
  ``ip netns exec NS`` once :meth:`~KernelBackend.write_hosts` gave the namespace
  files in ``/etc/netns/NS`` (:mod:`netlab.backends.hostsfile`), which
  ``DeleteNamespace`` removes.
* A snapshot ties each veth, macvlan and vxlan to the link it hangs on
  (:mod:`netlab.backends.kernel_ties`).
* A run of ``DeleteNamespace`` steps while no socket is open (a fresh backend,
  as in ``down``) is done by the calling thread, without the worker.
* Deletes are idempotent, also in a namespace that no longer exists.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from netlab.backends import (
    SNAPSHOT_SYSCTLS,
    AddAddress,
    AddFdb,
    AddNeigh,
    AddRoute,
    ApplyRuleset,
    CreateBridge,
    CreateMacvlan,
    CreateNamespace,
    CreateVeth,
    CreateVxlan,
    DeleteFdb,
    DeleteLink,
    DeleteNamespace,
    DeleteNeigh,
    DeleteRoute,
    ExecResult,
    LinkState,
    NamespaceState,
    SetMaster,
    SetSysctl,
    SetUp,
    Snapshot,
    Step,
    hostsfile,
)
from netlab.backends import netns as _netns
from netlab.backends.kernel_steps import NetlinkSteps, fail, is_step_route, link_info, require
from netlab.backends.kernel_ties import TieFacts, TieResolver, tie_facts
from netlab.backends.nftjson import normalize_ruleset
from netlab.errors import BackendError, NotSupportedError

__all__ = ["KernelBackend", "normalize_ruleset", "probe"]

T = TypeVar("T")

_STEP_TYPES = (CreateNamespace, DeleteNamespace, CreateBridge, CreateVeth, CreateVxlan, CreateMacvlan, SetMaster,
               AddFdb, DeleteFdb, AddNeigh, DeleteNeigh, DeleteLink, AddAddress, SetUp, AddRoute, DeleteRoute,
               SetSysctl, ApplyRuleset)
_IFF_UP, _IFF_LOOPBACK = 0x1, 0x8
_NFT_TIMEOUT = 30.0
_NO_NSENTER = "the kernel backend needs nsenter (util-linux) and ip (iproute2)"


def probe() -> str | None:
    """None if this process can create and delete a network namespace (so the kernel backend works), else why not."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux, not {sys.platform}"
    try:
        import pyroute2  # noqa: F401
    except ImportError:
        return "the kernel backend needs pyroute2: pip install 'netlab-cnm[kernel]'"
    try:
        _netns.can_create_namespaces()
    except OSError as exc:
        return f"cannot create a network namespace: {exc}"
    return None


class KernelBackend(NetlinkSteps):
    """Runs steps against the Linux kernel, in named network namespaces only (see the module docstring)."""

    name = "kernel"
    probe = staticmethod(probe)

    def __init__(self) -> None:
        super().__init__()
        self._prepared = False

    def __enter__(self) -> KernelBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------------------------------
    def apply(self, steps: Sequence[Step]) -> None:
        """Run ``steps`` in order; stop at the first failure (``BackendError``).

        A step of an unknown type raises ``NotSupportedError`` before any step runs.
        """
        steps = list(steps)
        for step in steps:
            if not isinstance(step, _STEP_TYPES):
                raise NotSupportedError(f"kernel backend: unknown step type {type(step).__name__}")
        if not steps:
            return
        if all(isinstance(step, DeleteNamespace) for step in steps) and self._pool.if_idle(_delete_namespaces, steps):
            return  # no socket open anywhere: nothing for the worker to close, so no thread hop (see if_idle)
        self._pool.call(self._apply_all, steps)

    def namespaces(self) -> list[str]:
        """Names in ``/run/netns``, sorted (what ``ip netns list`` shows)."""
        try:
            return sorted(os.listdir(_netns.NETNS_RUN_DIR))
        except FileNotFoundError:
            return []

    def snapshot(self, namespaces: Iterable[str]) -> Snapshot:
        """Links, IPv4 addresses, non-kernel main-table IPv4 routes, sysctls, rulesets, FDB and neighbour entries."""
        names = list(dict.fromkeys(namespaces))
        for ns in names:
            require(ns, "snapshot")
        netlink = self._pool.submit(self._snapshot_all, names)   # the worker dumps while nft lists here
        try:
            rulesets = _rulesets(names)
        finally:
            states: Snapshot = netlink.result()
        for ns in names:
            states[ns].ruleset = rulesets[ns]
        return states

    def exec(self, ns: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run ``argv`` inside ``ns``; ``ENOENT`` if the namespace does not exist.

        ``ip netns exec`` when ``ns`` has files in ``/etc/netns/NS`` (a hosts file: the program sees them over
        ``/etc``), else ``nsenter --net``.
        """
        desc = f"exec {' '.join(argv)!r}"
        require(ns, desc)
        try:
            proc = _nsenter(subprocess.run, hostsfile.command(ns, argv), input=None, capture_output=True, text=True,
                            timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise fail(f"{desc} (timed out after {timeout}s)", ns, errno.ETIMEDOUT) from exc
        return ExecResult(proc.returncode, proc.stdout, proc.stderr)

    def write_hosts(self, ns: str, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Replace ``/etc/netns/NS/hosts`` (and write a ``resolv.conf`` that keeps lookups in the lab: see
        :mod:`netlab.backends.hostsfile`); ``ENOENT`` if ``ns`` is missing, ``InvalidRequestError`` for a bad
        entry. ``DeleteNamespace`` removes them."""
        desc = "write hosts file"
        text = hostsfile.render(hostsfile.check_entries(entries))
        require(ns, desc)
        try:
            hostsfile.write_hosts(ns, text)
        except OSError as exc:
            raise fail(f"{desc} ({exc.strerror})", ns, exc.errno) from exc

    def close(self) -> None:
        """Close every cached socket and stop the worker thread; namespaces stay, the backend stays usable."""
        self._pool.shutdown()

    # -- steps (worker thread) --------------------------------------------------------------------------------------
    def _apply_all(self, steps: list[Step]) -> None:
        """Runs of CreateNamespace steps go to one thread; ifindexes and FDB entries looked up are reused within this
        call only."""
        self._reset()
        try:
            for creating, group in itertools.groupby(steps, key=lambda step: isinstance(step, CreateNamespace)):
                if creating:
                    self._create_namespaces([step for step in group if isinstance(step, CreateNamespace)])
                else:
                    for step in group:
                        self._apply_one(step)
        finally:
            self._reset()

    def _apply_one(self, step: Step) -> None:
        match step:
            case DeleteNamespace():
                self._forget(step.ns)
                self._ifindex.clear()   # veth ends elsewhere whose peers were in it go too
                self._pool.drop(step.ns)
                _delete_namespaces([step])
            case CreateBridge():
                self._create_bridge(step)
            case CreateVeth():
                self._create_veth(step)
            case CreateVxlan():
                self._create_vxlan(step)
            case CreateMacvlan():
                self._create_macvlan(step)
            case SetMaster():
                self._set_master(step)
            case AddFdb():
                self._add_fdb(step)
            case DeleteFdb():
                self._delete_fdb(step)
            case AddNeigh():
                self._add_neigh(step)
            case DeleteNeigh():
                self._delete_neigh(step)
            case DeleteLink():
                self._delete_link(step)
            case AddAddress():
                self._add_address(step)
            case SetUp():
                self._set_up(step)
            case AddRoute():
                self._add_route(step)
            case DeleteRoute():
                self._delete_route(step)
            case SetSysctl():
                desc = f"set sysctl {step.key}={step.value}"
                require(step.ns, desc)
                try:
                    _netns.write_sysctl(step.ns, step.key, step.value)
                except ValueError as exc:
                    raise fail(f"{desc} ({exc})", step.ns, errno.EINVAL) from exc
                except FileNotFoundError:
                    if not step.optional:
                        raise fail(desc, step.ns, errno.ENOENT) from None
                except OSError as exc:
                    raise fail(desc, step.ns, exc.errno) from exc
            case ApplyRuleset():
                require(step.ns, "apply ruleset")
                if step.ruleset.get("nftables"):
                    _apply_ruleset(step.ns, json.dumps(step.ruleset))
            case _:  # pragma: no cover - apply() checks the types first
                raise NotSupportedError(f"kernel backend: unknown step type {type(step).__name__}")

    def _create_namespaces(self, steps: list[CreateNamespace]) -> None:
        """A run of CreateNamespace steps, made by one throwaway thread; stops at the first failure."""
        names = [step.ns for step in steps]
        try:
            if not self._prepared:
                _netns.prepare_run_dir()
                self._prepared = True
        except OSError as exc:
            raise fail("create namespace", names[0], exc.errno) from exc
        made, error = _netns.create_namespaces(names)
        pending = [sock for sock, _ in made]
        try:
            for ns, (sock, ident) in zip(names, made, strict=False):
                self._forget(ns)
                self._pool.adopt(ns, sock, ident)  # replaces the socket of a namespace deleted behind our back
                pending.remove(sock)
        finally:
            for sock in pending:
                sock.close()
        if isinstance(error, FileExistsError):
            raise fail("create namespace", names[len(made)], errno.EEXIST) from error
        if isinstance(error, ValueError):
            raise BackendError(f"create namespace: {error}", errno.EINVAL) from error
        if isinstance(error, OSError):
            raise fail("create namespace", names[len(made)], error.errno) from error

    # -- snapshot ---------------------------------------------------------------------------------------------------
    def _snapshot_all(self, names: list[str]) -> Snapshot:
        """Each namespace's objects, then the ties of their links (:mod:`netlab.backends.kernel_ties`), then sysctls."""
        states: Snapshot = {}
        facts: list[TieFacts] = []
        links: dict[str, dict[int, tuple[str, str | None]]] = {}
        for ns in names:
            states[ns], links[ns] = self._snapshot_one(ns, facts)
        ties = TieResolver(lambda ns: self._chan(ns, "snapshot"), links).resolve(facts)
        for (ns, name), tie in ties.items():
            states[ns].links[name] = dataclasses.replace(states[ns].links[name], link=tie)
        try:
            for ns, values in zip(names, _netns.read_sysctls(names, SNAPSHOT_SYSCTLS), strict=True):
                states[ns].sysctls = values
        except OSError as exc:
            raise fail("read sysctls", exc.filename or names[0], exc.errno) from exc
        return states

    def _snapshot_one(self, ns: str, facts: list[TieFacts]) -> tuple[NamespaceState, dict[int, tuple[str, str | None]]]:
        """The state of ``ns`` (links not yet tied: their facts are appended to ``facts``) and its links by ifindex,
        as ``(name, mac)``."""
        desc, state = "snapshot", NamespaceState()
        chan = self._chan(ns, desc)
        msgs = self._dump_links(chan, ns, desc)
        names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in msgs}
        vxlans = set()
        for m in msgs:
            kind = m.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
            kind = str(kind or ("loopback" if m["flags"] & _IFF_LOOPBACK else "unknown"))
            name, master = names[int(m["index"])], m.get_attr("IFLA_MASTER")
            state.links[name] = LinkState(name=name, kind=kind, up=bool(m["flags"] & _IFF_UP),
                                          mac=m.get_attr("IFLA_ADDRESS"), mtu=m.get_attr("IFLA_MTU"),
                                          master=names.get(master) if master else None, ifindex=int(m["index"]),
                                          info=link_info(kind, m))
            fact = tie_facts(ns, name, kind, m)
            if fact is not None:
                facts.append(fact)
            if kind == "vxlan":
                vxlans.add(int(m["index"]))
        for a in self._dump_addresses(chan, ns, desc):
            ip = a.get_attr("IFA_LOCAL") or a.get_attr("IFA_ADDRESS")
            state.addresses.add((names.get(int(a["index"]), str(a["index"])), f"{ip}/{a['prefixlen']}"))
        for r in self._dump_routes(chan, ns, desc):
            if not is_step_route(r):
                continue
            dst = "default" if r["dst_len"] == 0 else f"{r.get_attr('RTA_DST')}/{r['dst_len']}"
            oif = r.get_attr("RTA_OIF")
            state.routes.add((dst, r.get_attr("RTA_GATEWAY"), names.get(oif) if oif else None))
        state.fdb = self._read_fdb(chan, ns, names, vxlans)
        state.neighbours = self._read_neighbours(chan, ns, names)
        return state, {index: (name, state.links[name].mac) for index, name in names.items()}


def _apply_ruleset(ns: str, text: str) -> None:
    """``nft -j -f -`` started in ``ns`` by a thread inside it; any nft failure is ``EINVAL``, with nft's message."""
    try:
        proc = _netns.spawn_in(ns, ["nft", "-j", "-f", "-"], text, _NFT_TIMEOUT)
    except OSError as exc:   # the namespace went away meanwhile
        raise fail("apply ruleset", ns, exc.errno) from exc
    if proc.returncode != 0:
        raise BackendError(f"apply ruleset in netns {ns!r}: nft failed: {proc.stderr.strip()}", errno.EINVAL)


def _delete_namespaces(steps: list[DeleteNamespace]) -> None:
    """Remove each namespace's ``/etc/netns/NS``, unmount and unlink the namespace, in order (idempotent); the caller
    has closed the sockets in them."""
    for step in steps:
        try:
            hostsfile.remove(step.ns)
            _netns.delete_namespace(step.ns)
        except (OSError, ValueError) as exc:
            raise fail(f"delete namespace ({exc})", step.ns, getattr(exc, "errno", errno.EINVAL)) from exc


def _rulesets(names: list[str]) -> dict[str, list[dict[str, Any]] | None]:
    """``nft -j list ruleset`` in each namespace, normalised."""
    out: dict[str, list[dict[str, Any]] | None] = {}
    for ns, proc in _nsenter(_netns.run_each, names, ["nft", "-j", "list", "ruleset"], _NFT_TIMEOUT).items():
        if proc.returncode != 0:
            raise BackendError(f"list ruleset in netns {ns!r}: nft failed: {proc.stderr.strip()}", errno.EIO)
        out[ns] = normalize_ruleset(json.loads(proc.stdout))
    return out


def _nsenter(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    except FileNotFoundError as exc:
        raise NotSupportedError(_NO_NSENTER) from exc
