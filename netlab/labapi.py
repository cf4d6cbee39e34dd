"""``netlab.Lab``: a deployed lab for scripts and tests.

::

    with netlab.Lab.up("scenarios/two-host-overlay.yaml", backend="kernel") as lab:
        assert lab.ping("c1", "c2")
        print(lab.exec("c1", ["ip", "-br", "addr"]).stdout)
        print(lab.trace("c1", "c2", port="80/tcp").explain())
        report = lab.run_checks()          # the scenario's expect: section

:meth:`Lab.up` deploys (``netlab up``), writes every sandbox's hosts file and
returns the lab; leaving the ``with`` block takes it down (``netlab down``),
also when the block raises, unless ``keep`` is set. :meth:`Lab.attach` opens a
lab that is already deployed without taking it down afterwards. State lives
in the same store as the CLI's (``state_dir``, default ``$NETLAB_STATE_DIR`` or
``~/.local/state/netlab``), so a kept lab is seen by ``netlab status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlab.backends import ExecResult
from netlab.controller import Controller
from netlab.errors import ConflictError, InvalidRequestError, NotFoundError
from netlab.harness_matrix import MatrixResult, expected_matrix
from netlab.harness_model import DeployedLab, Target, addressing_from_dict
from netlab.loading import from_dict
from netlab.model import Check, Topology
from netlab.probes import Prober, WalkProber
from netlab.runtime import open_backend, open_store, save_backend
from netlab.scenario import CheckResult, Progress, Report, prober_for, run_check, run_checks, write_hosts
from netlab.store import SqliteStore
from netlab.validation import load_valid, validate

if TYPE_CHECKING:
    from netlab.backends.walk import Trace

__all__ = ["Lab", "deployed_backend", "parse_port"]

logger = logging.getLogger(__name__)

INTERNET = "internet"


def _quiet(done: int, total: int, label: str) -> None:
    del done, total, label


def parse_port(text: str) -> tuple[int, str]:
    """``"80/tcp"`` -> ``(80, "tcp")``; the protocol defaults to tcp.

    >>> parse_port("53/udp")
    (53, 'udp')
    >>> parse_port("http")
    Traceback (most recent call last):
    ...
    netlab.errors.InvalidRequestError: port 'http' is not PORT[/tcp|udp] with PORT in 1-65535, e.g. 80/tcp
    """
    number, _, proto = text.partition("/")
    proto = proto or "tcp"
    if not number.isdigit() or not 1 <= int(number) <= 65535 or proto not in ("tcp", "udp"):
        raise InvalidRequestError(f"port {text!r} is not PORT[/tcp|udp] with PORT in 1-65535, e.g. 80/tcp")
    return int(number), proto


def _load(source: str | Path | Topology, name: str | None) -> tuple[Topology, str | None]:
    if isinstance(source, Topology):
        validate(source)
        topo, path = source, source.source
    else:
        topo, _ = load_valid(source)
        path = str(Path(source).resolve())
    if name is not None and name != topo.name:
        copy = from_dict(topo.to_dict())
        copy.name, copy.lines, copy.source = name, topo.lines, topo.source
        topo = copy
    return topo, path


def deployed_backend(store: SqliteStore, lab: str) -> str | None:
    """``sim`` or ``kernel``: the backend lab ``lab`` is deployed on (None: not deployed)."""
    info = store.lab(lab)
    if info is None:
        return None
    return "sim" if info["backend"] == "simulated" else str(info["backend"])


class Lab:
    """A deployed lab: its controller, backend, store, and the harness's view of it."""

    def __init__(self, controller: Controller, *, keep: bool, was_deployed: bool) -> None:
        self.controller = controller
        self.backend = controller.backend
        self.store = controller.store
        #: leave the lab deployed when the ``with`` block ends
        self.keep = keep
        #: the lab was already deployed before :meth:`up` (reconciled, not created)
        self.was_deployed = was_deployed
        self._view: DeployedLab | None = None
        self._prober: Prober | None = None
        self._walker: WalkProber | None = None
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------
    @classmethod
    def up(cls, source: str | Path | Topology, backend: str = "sim", name: str | None = None, keep: bool = False,
           state_dir: str | Path | None = None, progress: Progress = _quiet) -> Lab:
        """Deploy ``source`` (a scenario file or a Topology) as lab ``name`` (default: its own) and write hosts files.

        Raises ``ValidationError`` for an invalid scenario before touching anything; if
        the deploy itself fails, what it created is removed before the error propagates.
        """
        topo, path = _load(source, name)
        store = open_store(state_dir)
        try:
            deployed_on = deployed_backend(store, topo.name)
            if deployed_on not in (None, backend):
                raise ConflictError(f"lab {topo.name!r} is deployed on the {deployed_on} backend already; take it "
                                    f"down first (netlab down {topo.name}) or use that backend")
            backend_obj = open_backend(backend, store)
        except BaseException:
            store.close()
            raise
        controller = Controller(topo.name, backend_obj, store)
        lab = cls(controller, keep=keep, was_deployed=store.lab(topo.name) is not None)
        try:
            controller.up(topo, path, progress)
            write_hosts(lab.view, backend_obj)
            save_backend(backend_obj, store)
        except BaseException:
            lab.keep = lab.was_deployed  # never leave half a new lab behind
            lab.close()
            raise
        return lab

    @classmethod
    def attach(cls, name: str, state_dir: str | Path | None = None, backend: str | None = None) -> Lab:
        """A lab deployed earlier (``netlab up``, ``--keep``); it stays deployed when the ``with`` block ends."""
        store = open_store(state_dir)
        try:
            info = store.lab(name)
            if info is None:
                known = ", ".join(store.labs()) or "none"
                raise NotFoundError(f"lab {name!r} is not deployed (known labs: {known})")
            deployed_on = deployed_backend(store, name) or "sim"
            if backend is not None and backend != deployed_on:
                raise InvalidRequestError(f"lab {name!r} is deployed on the {info['backend']} backend, not {backend}")
            backend_obj = open_backend(deployed_on, store)
        except BaseException:
            store.close()
            raise
        return cls(Controller(name, backend_obj, store), keep=True, was_deployed=True)

    def twin(self) -> Lab:
        """The same model with the same addresses deployed on a fresh in-memory simulator (the prediction)."""
        from netlab.backends.simulated import SimulatedBackend

        info = self.store.lab(self.name)
        if info is None or not info.get("model"):
            raise NotFoundError(f"lab {self.name!r} is not deployed")
        store = SqliteStore(":memory:")
        # the lab's record first: the controller then keeps its subnets and addresses (as a reconcile does)
        store.save_lab(self.name, "simulated", info.get("source"), info["model"], info["addressing"])
        controller = Controller(self.name, SimulatedBackend(), store)
        twin = Lab(controller, keep=False, was_deployed=False)
        try:
            controller.up(from_dict(info["model"]), info.get("source"))
            write_hosts(twin.view, twin.backend)
        except BaseException:
            twin.close()
            raise
        return twin

    def _repr_html_(self) -> str:
        from netlab.reprs import lab_html

        return lab_html(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def down(self) -> None:
        """Take the lab down now (idempotent) and release the backend and the store."""
        self.keep = False
        self.close()

    def close(self) -> None:
        """Take the lab down unless ``keep``, then release the backend and the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self.keep:
                self.controller.down()
            save_backend(self.backend, self.store)
        finally:
            self.backend.close()
            self.store.close()

    def refresh(self) -> None:
        """Catch up after the lab changed through :attr:`controller` (``lab.controller.join(...)``): forget the
        cached view and probers (the next question takes a new snapshot) and rewrite the hosts files."""
        self._view = None
        self._prober = None
        self._walker = None
        write_hosts(self.view, self.backend)
        save_backend(self.backend, self.store)

    # -- what is deployed -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.controller.lab

    @property
    def view(self) -> DeployedLab:
        """The harness's view of the lab as deployed (namespaces, addresses, names)."""
        if self._view is None:
            info = self.store.lab(self.name)
            if info is None or not info.get("model"):
                raise NotFoundError(f"lab {self.name!r} is not deployed")
            self._view = DeployedLab(self.name, from_dict(info["model"]), addressing_from_dict(info["addressing"]))
        return self._view

    @property
    def topology(self) -> Topology:
        """The model as deployed (without the gateway bridges the deploy added)."""
        return self.controller.deployed()

    def namespaces(self) -> list[str]:
        """Every namespace the lab owns."""
        owned = (rec.spec.get("owns") for rec in self.controller.objects())
        return sorted({str(ns) for ns in owned if ns})

    @property
    def prober(self) -> Prober:
        """Real traffic on the kernel backend, the packet walker on the simulator."""
        if self._prober is None:
            self._prober = prober_for(self.backend, self.walker)
        return self._prober

    def walker(self) -> WalkProber:
        """The packet walker over a snapshot of the lab (the kernel's own state on the kernel backend)."""
        if self._walker is None:
            self._walker = WalkProber(self.backend, self.namespaces())
        return self._walker

    # -- questions ---------------------------------------------------------------------------
    def resolve(self, src: str, dst: str, network: str | None = None) -> Target:
        """What ``dst`` (a container, alias, IPv4 address, or ``internet``) means from container ``src``."""
        view = self.view
        if dst == INTERNET and not view.topo.has("sandbox", INTERNET):
            if view.internet_ip is None:
                raise NotFoundError(f"lab {self.name!r} has no internet namespace")
            return Target(view.internet_ip, view.internet_ns, f"internet {view.internet_ip}")
        return view.target(src, dst, network)

    def ping(self, src: str, dst: str, network: str | None = None) -> bool:
        """Whether ``dst`` answers a ping from container ``src`` (answered by ``dst`` itself)."""
        target = self.resolve(src, dst, network)
        return self.prober.ping(self.view.sandbox_ns(self.view.sandbox(src)), target.ip, target.ns)

    def exec(self, sandbox: str, argv: Sequence[str], timeout: float = 30.0) -> ExecResult:
        """Run ``argv`` inside the container (kernel backend; the simulator answers only ``ip``/``getent``)."""
        return self.backend.exec(self.view.sandbox_ns(self.view.sandbox(sandbox)), list(argv), timeout)

    def trace(self, src: str, dst: str, port: str | None = None) -> Trace:
        """The packet walker's path from container ``src`` to ``dst``: ICMP, or ``port`` such as ``"80/tcp"``."""
        number, proto = parse_port(port) if port is not None else (None, "icmp")
        target = self.resolve(src, dst)
        return self.walker().trace(self.view.sandbox_ns(self.view.sandbox(src)), target.ip, proto, number)

    def matrix(self) -> MatrixResult:
        """Every sandbox x address: what the model implies and what the prober observes."""
        view = self.view
        result = expected_matrix(view)
        result.observed = self.prober.matrix([view.sandbox_ns(s) for s in result.sources],
                                             [(view.sandbox_ns(c.sandbox), c.ip) for c in result.columns])
        return result

    def check(self, kind: str, **params: Any) -> CheckResult:
        """Run one check of the scenario format; ``src`` stands for ``from`` (a Python keyword), e.g.
        ``lab.check("tcp", src="app", to="web", port=80)`` or ``lab.check("reachability")``."""
        if "src" in params:
            params["from"] = params.pop("src")
        return run_check(self.view, self.prober, Check(kind, params, f"check.{kind}"))

    def run_checks(self, checks: Sequence[Check] | None = None,
                   progress: Callable[[int, int, str], None] = _quiet) -> Report:
        """Run ``checks`` (default: the scenario's ``expect:`` section) and report every result."""
        chosen = list(self.topology.expect) if checks is None else list(checks)
        return run_checks(self.view, self.prober, chosen, self.backend.name, progress)
