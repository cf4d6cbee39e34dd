"""Backends: the small named kernel steps drivers emit, and the Backend protocol that runs them.

Drivers never touch the kernel: they return lists of steps. A backend executes
them in order. :class:`~netlab.backends.kernel.KernelBackend` does it with
pyroute2 netlink and ``nft -j``; :class:`~netlab.backends.simulated.SimulatedBackend`
keeps the same objects in memory and fails with the kernel's errnos.

Rules every backend follows:

* creating something that exists fails with ``EEXIST``; a step naming a
  namespace or link that does not exist fails with ``ENOENT`` / ``ENODEV``;
  errors are raised as :class:`~netlab.errors.BackendError` with ``errno`` set
  and a message naming the step, the namespace and the object;
* every ``Delete*`` step is idempotent: deleting what is not there succeeds;
* nothing is ever created or changed outside the namespaces the steps name
  (a step never targets the machine's own namespace);
* :meth:`Backend.snapshot` reads back the objects, so two backends (or the
  store and the kernel) can be compared as plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "AddAddress",
    "AddFdb",
    "AddNeigh",
    "AddRoute",
    "ApplyRuleset",
    "Backend",
    "CreateBridge",
    "CreateMacvlan",
    "CreateVxlan",
    "CreateNamespace",
    "CreateVeth",
    "DeleteFdb",
    "DeleteLink",
    "DeleteNeigh",
    "DeleteNamespace",
    "DeleteRoute",
    "ExecResult",
    "LinkState",
    "NamespaceState",
    "SetMaster",
    "SetSysctl",
    "SetUp",
    "SNAPSHOT_SYSCTLS",
    "Snapshot",
    "STEP_TYPES",
    "Step",
    "UNNAMED_NAMESPACE",
    "step_from_dict",
    "step_to_dict",
]


@dataclass(frozen=True, slots=True)
class CreateNamespace:
    """A new, empty network namespace named ``ns`` (its ``lo`` stays down until ``SetUp``)."""

    ns: str


@dataclass(frozen=True, slots=True)
class DeleteNamespace:
    """Remove namespace ``ns`` and everything in it (idempotent)."""

    ns: str


@dataclass(frozen=True, slots=True)
class CreateBridge:
    """A Linux bridge ``name`` in ``ns``, brought up; ``mac`` and ``mtu`` when given."""

    ns: str
    name: str
    mtu: int | None = None
    mac: str | None = None


@dataclass(frozen=True, slots=True)
class CreateVeth:
    """A veth pair: ``name`` in ``ns`` with MAC ``mac`` (enslaved to bridge ``master`` if
    given, brought up), and its peer ``peer_name`` in ``peer_ns`` with MAC ``peer_mac``
    (left down). ``mtu`` applies to both ends. The pair is created in one netlink
    request from ``ns``; it never appears in any other namespace, even briefly."""

    ns: str
    name: str
    peer_ns: str
    peer_name: str
    master: str | None = None
    mac: str | None = None
    peer_mac: str | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class CreateVxlan:
    """A VXLAN device ``name`` with id ``vni``, created from ``ns`` (whose routing carries the
    encapsulated UDP: the underlay) and placed in ``target_ns`` (``ns`` when None), where it
    is left down. ``local`` is the source VTEP address, ``dev`` the underlay link in ``ns``.
    Learning is off unless ``learning``; destination port ``port``. Like libnetwork, the
    device lives in the overlay's namespace while its socket stays in the host's."""

    ns: str
    name: str
    vni: int
    local: str
    dev: str
    target_ns: str | None = None
    port: int = 4789
    learning: bool = False
    mtu: int | None = None
    mac: str | None = None


@dataclass(frozen=True, slots=True)
class CreateMacvlan:
    """A macvlan sub-interface of ``parent`` (a link in ``ns``), created in one request and
    placed in ``target_ns`` as ``name`` (left down), ``mode`` bridge|private|vepa|passthru."""

    ns: str
    parent: str
    target_ns: str
    name: str
    mode: str = "bridge"
    mac: str | None = None
    mtu: int | None = None


@dataclass(frozen=True, slots=True)
class SetMaster:
    """Enslave link ``ifname`` in ``ns`` to bridge ``master`` (same namespace). With ``learning``
    False the bridge does not learn source MACs on that port (an overlay's VXLAN port: its
    peers are programmed, and a MAC learned there would outlive a container moving hosts)."""

    ns: str
    ifname: str
    master: str
    learning: bool = True


@dataclass(frozen=True, slots=True)
class AddFdb:
    """A permanent bridge FDB entry on VXLAN device ``ifname`` in ``ns``: frames for ``mac`` go
    to remote VTEP ``dst``. ``mac`` ``00:00:00:00:00:00`` with ``append`` adds a flood entry
    (one per remote VTEP: BUM traffic is replicated to each)."""

    ns: str
    ifname: str
    mac: str
    dst: str
    append: bool = False


@dataclass(frozen=True, slots=True)
class DeleteFdb:
    """Remove that FDB entry (matched by ``mac`` and ``dst``); idempotent."""

    ns: str
    ifname: str
    mac: str
    dst: str


@dataclass(frozen=True, slots=True)
class AddNeigh:
    """A permanent neighbour entry in ``ns``: ``ip`` is at ``mac`` through ``ifname``."""

    ns: str
    ifname: str
    ip: str
    mac: str


@dataclass(frozen=True, slots=True)
class DeleteNeigh:
    """Remove the neighbour entry for ``ip`` on ``ifname``; idempotent."""

    ns: str
    ifname: str
    ip: str


@dataclass(frozen=True, slots=True)
class DeleteLink:
    """Remove link ``name`` from ``ns`` (a veth takes its peer along); idempotent."""

    ns: str
    name: str


@dataclass(frozen=True, slots=True)
class AddAddress:
    """Add IPv4 address ``cidr`` (``"10.0.0.2/24"``) to link ``ifname`` in ``ns``."""

    ns: str
    ifname: str
    cidr: str


@dataclass(frozen=True, slots=True)
class SetUp:
    """Bring link ``ifname`` (``"lo"`` included) up in ``ns``."""

    ns: str
    ifname: str


@dataclass(frozen=True, slots=True)
class AddRoute:
    """Add a route in ``ns``: ``dst`` is ``"default"`` or a CIDR; via ``gateway`` and/or out ``ifname``."""

    ns: str
    dst: str
    gateway: str | None = None
    ifname: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteRoute:
    """Remove the route to ``dst`` (``"default"`` or a CIDR) from ``ns``; idempotent."""

    ns: str
    dst: str


@dataclass(frozen=True, slots=True)
class SetSysctl:
    """Set a per-namespace sysctl in ``ns``, e.g. ``("net.ipv4.ip_forward", "1")``.

    ``optional``: a key this kernel does not have is skipped instead of failing (``ENOENT``), for keys that
    only exist with a feature loaded (``net.bridge.bridge-nf-call-*`` needs ``br_netfilter``: without it
    bridged traffic passes no IP hooks, which is what setting them to 0 asks for).
    """

    ns: str
    key: str
    value: str
    optional: bool = False


@dataclass(frozen=True, slots=True)
class ApplyRuleset:
    """Replace netlab's nftables table(s) in ``ns`` atomically.

    ``ruleset`` is a document in nft's JSON schema (``{"nftables": [...]}``) that
    starts by adding, flushing/deleting and re-adding its own tables, so applying
    it twice gives the same state. An empty ``{"nftables": []}`` is allowed.
    """

    ns: str
    ruleset: dict[str, Any] = field(hash=False)


Step = (CreateNamespace | DeleteNamespace | CreateBridge | CreateVeth | CreateVxlan | CreateMacvlan | SetMaster
        | AddFdb | DeleteFdb | AddNeigh | DeleteNeigh | DeleteLink | AddAddress | SetUp | AddRoute | DeleteRoute
        | SetSysctl | ApplyRuleset)

STEP_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in (
    CreateNamespace, DeleteNamespace, CreateBridge, CreateVeth, CreateVxlan, CreateMacvlan, SetMaster, AddFdb,
    DeleteFdb, AddNeigh, DeleteNeigh, DeleteLink, AddAddress, SetUp, AddRoute, DeleteRoute, SetSysctl,
    ApplyRuleset)}


def step_to_dict(step: Step) -> dict[str, Any]:
    """A JSON-safe form of a step: ``{"step": "CreateVeth", "ns": ..., ...}``."""
    return {"step": type(step).__name__, **{name: getattr(step, name) for name in step.__dataclass_fields__}}


def step_from_dict(data: dict[str, Any]) -> Step:
    fields = dict(data)
    cls = STEP_TYPES[fields.pop("step")]
    step: Step = cls(**fields)
    return step


@dataclass(frozen=True, slots=True)
class LinkState:
    """One link as read back: what both backends can report identically."""

    name: str
    kind: str            # "loopback", "bridge", "veth", "vxlan", "macvlan", ...
    up: bool
    mac: str | None = None
    mtu: int | None = None
    master: str | None = None
    ifindex: int | None = field(default=None, compare=False)
    #: vxlan: (vni, local VTEP, dst port, learning); macvlan: (mode,); None otherwise
    info: tuple[Any, ...] | None = None
    #: the (namespace, link) this link is tied to: a veth's peer, a macvlan's parent, a vxlan's underlay
    #: (namespace whose routing carries its UDP, underlay device or None); None for other kinds. A namespace
    #: that has no name in ``/run/netns`` (the machine's own, say) is :data:`UNNAMED_NAMESPACE`.
    link: tuple[str, str | None] | None = None


#: ``LinkState.link``'s namespace when the other end lives in a namespace without a name (not in ``/run/netns``,
#: or the machine's own); the link name is then still given when the kernel tells it, else None
UNNAMED_NAMESPACE = "?"

#: the sysctls a snapshot reads back in every namespace
SNAPSHOT_SYSCTLS = ("net.ipv4.ip_forward",)


@dataclass(slots=True)
class NamespaceState:
    """Everything netlab manages in one namespace, as plain comparable data.

    ``links`` includes ``lo``; ``addresses`` are IPv4 only; ``routes`` are the
    main-table IPv4 routes that steps added (not the ones the kernel derives
    from addresses); ``sysctls`` holds :data:`SNAPSHOT_SYSCTLS`; ``ruleset`` is
    the nft JSON of the tables netlab owns there (``None`` when there are none),
    normalised to a list of ``{"table"|"chain"|"rule": ...}`` objects without
    handles.
    """

    links: dict[str, LinkState] = field(default_factory=dict)
    addresses: set[tuple[str, str]] = field(default_factory=set)          # (ifname, cidr)
    routes: set[tuple[str, str | None, str | None]] = field(default_factory=set)  # (dst, gateway, ifname)
    sysctls: dict[str, str] = field(default_factory=dict)
    ruleset: list[dict[str, Any]] | None = None
    #: permanent FDB entries added by steps on vxlan devices: (ifname, mac, dst VTEP)
    fdb: set[tuple[str, str, str]] = field(default_factory=set)
    #: permanent neighbour entries added by steps: (ifname, ip, mac)
    neighbours: set[tuple[str, str, str]] = field(default_factory=set)


Snapshot = dict[str, NamespaceState]


@dataclass(frozen=True, slots=True)
class ExecResult:
    returncode: int
    stdout: str
    stderr: str


class Backend(Protocol):
    """Runs steps; reads state back. Implementations: kernel, simulated."""

    name: str

    def apply(self, steps: Sequence[Step]) -> None:
        """Run ``steps`` in order; stop at the first failure and raise ``BackendError``."""

    def namespaces(self) -> list[str]:
        """Names of the namespaces that exist (in this backend's world), sorted."""

    def snapshot(self, namespaces: Iterable[str]) -> Snapshot:
        """Read back links, addresses, routes, sysctls set by steps, and rulesets of ``namespaces``."""

    def exec(self, ns: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run a command inside namespace ``ns``; it sees the hosts file :meth:`write_hosts` wrote there
        (``getent hosts NAME`` answers from it: ``ADDRESS  NAME ALIASES...``, status 2 when not found)."""

    def write_hosts(self, ns: str, entries: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Replace the hosts file of namespace ``ns`` with ``(address, names)`` entries, one line each, in order
        (``InvalidRequestError`` for a bad entry, ``BackendError`` ENOENT for a missing namespace). It lives as
        long as the namespace does (see :mod:`netlab.backends.hostsfile`)."""

    def close(self) -> None:
        """Release sockets and threads (namespaces stay)."""
