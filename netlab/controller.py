"""Controller: libnetwork's verbs over a lab, and reconcile (``up``) / teardown (``down``).

::

    CLI / Python API / REST / widgets
              |
         Controller --------------> Store (sqlite: objects + journal, intent first)
              | desired objects
              v
      lab.desired_objects --> drivers (CNM verbs -> steps)
              | steps
              v
           Backend (kernel: pyroute2 + nft | simulated: in memory)

``up(topology)`` validates and addresses the model (keeping the addresses and
interface names of what is already deployed), computes the lab's object
groups, compares them with the store and applies only the difference: groups
whose spec changed (or that a crash left pending) are removed and rebuilt,
their dependants with them; everything else is left untouched (same
ifindex). ``down()`` deletes every namespace the store has on record for the
lab, pending ones included, which removes every link, address, route and rule
in them. The libnetwork-style verbs (``new_network``, ``new_sandbox``,
``join``...) edit the deployed model and reconcile.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netlab.addressing import Addressing, allocate
from netlab.backends import Backend, CreateNamespace, DeleteNamespace, Step, step_from_dict, step_to_dict
from netlab.errors import BackendError, ConflictError, NotFoundError, ValidationError
from netlab.lab import LabObject, desired_objects, with_gateway_bridges
from netlab.loading import from_dict
from netlab.model import Endpoint, Network, PortMapping, Sandbox, Topology
from netlab.store import ObjectRecord, SqliteStore
from netlab.validation import validate

__all__ = ["Change", "Controller", "Progress"]

logger = logging.getLogger(__name__)

#: progress callback: (steps done, steps in all, what is being done)
Progress = Callable[[int, int, str], None]


@dataclass(slots=True)
class Change:
    """What a reconcile did."""

    created: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


#: how many steps go to the backend in one call (intent for all of them is recorded first)
BATCH_STEPS = 512


def _chunks(objects: Sequence[LabObject], max_steps: int) -> list[list[LabObject]]:
    chunks: list[list[LabObject]] = [[]]
    size = 0
    for obj in objects:
        if chunks[-1] and size + len(obj.create) > max_steps:
            chunks.append([])
            size = 0
        chunks[-1].append(obj)
        size += len(obj.create)
    return [chunk for chunk in chunks if chunk]


def _quiet(done: int, total: int, label: str) -> None:
    del done, total, label


class Controller:
    """One lab's controller. ``backend`` and ``store`` are passed in, never global."""

    def __init__(self, lab: str, backend: Backend, store: SqliteStore) -> None:
        self.lab = lab
        self.backend = backend
        self.store = store

    # -- reconcile --------------------------------------------------------------------
    def up(self, topo: Topology, source: str | None = None, progress: Progress = _quiet) -> Change:
        """Make the lab match ``topo``; only the difference is applied."""
        if topo.name != self.lab:
            raise ConflictError(f"topology {topo.name!r} given to the controller of lab {self.lab!r}")
        validate(topo)
        previous = self.store.lab(self.lab)
        deployable = with_gateway_bridges(topo)
        addressing = self._addresses(deployable, previous)
        current = self.store.objects(self.lab)
        pins = {(r.spec["detail"]["sandbox"], r.spec["detail"]["network"]): r.spec["spec"]["index"]
                for r in current if r.kind == "endpoint" and r.status == "done"}
        desired = desired_objects(self.lab, deployable, addressing, pins)
        self.store.save_lab(self.lab, self.backend.name, source,
                            previous["model"] if previous else None, previous["addressing"] if previous else None)
        change = self._reconcile(current, desired, progress)
        self.store.save_lab(self.lab, self.backend.name, source, topo.to_dict(), addressing.to_dict())
        return change

    def _addresses(self, topo: Topology, previous: dict[str, Any] | None) -> Addressing:
        """Address ``topo``, keeping subnets and IPs that are deployed already (Docker keeps them too)."""
        if not previous or not previous.get("addressing"):
            return allocate(topo)
        pinned = from_dict(topo.to_dict())
        old = previous["addressing"]
        for net in pinned.networks:
            was = old["networks"].get(net.name)
            if was and net.subnet is None and net.driver == (previous["model"]["networks"].get(net.name) or {}).get(
                    "driver"):
                pinned.update_network(net.name, subnet=was["subnet"], gateway=net.gateway or was["gateway"])
        for ep in pinned.endpoints:
            was = old["endpoints"].get(ep.sandbox, {}).get(ep.network)
            net_was = old["networks"].get(ep.network)
            subnet_now = pinned.network(ep.network).subnet
            if was and ep.ip is None and net_was and net_was["subnet"] == subnet_now:
                statics = {e.ip for e in pinned.endpoints_on(ep.network) if e.ip}
                address = was["ip"].split("/")[0]
                if address not in statics:
                    pinned.update_endpoint(ep.sandbox, ep.network, ip=address)
        try:
            return allocate(pinned)
        except ValidationError:
            logger.info("deployed addresses no longer fit lab %s; allocating afresh", self.lab)
            return allocate(topo)

    def _reconcile(self, current: Sequence[ObjectRecord], desired: Sequence[LabObject],
                   progress: Progress) -> Change:
        change = Change()
        want = {obj.key: obj for obj in desired}
        have = {rec.key: rec for rec in current}
        doomed = {key for key, rec in have.items()
                  if key not in want or rec.status != "done"
                  or (rec.spec["spec"] != want[key].spec and not want[key].replace)}
        grew = True
        while grew:  # dependants of a rebuilt group are rebuilt too
            grew = False
            for obj in desired:
                if obj.key in have and obj.key not in doomed and any(p in doomed for p in obj.parents):
                    doomed.add(obj.key)
                    grew = True
        gone_ns = {have[key].spec["owns"] for key in doomed if have[key].spec.get("owns")}
        todo = [obj for obj in desired if obj.key not in have or obj.key in doomed
                or (obj.replace and have[obj.key].spec["spec"] != obj.spec)]
        total = sum(len(have[k].spec["delete"]) for k in doomed) + sum(len(o.create) for o in todo)
        done = 0
        for rec in reversed(current):
            if rec.key not in doomed:
                continue
            self.store.removing(self.lab, rec.key)
            steps = [step_from_dict(s) for s in rec.spec["delete"]]
            # skip the steps only when the namespace they act in goes anyway; an endpoint's veth end on a
            # bridge that stays is removed now, not whenever the kernel finishes destroying the sandbox
            if rec.spec.get("owns") or not rec.namespaces or rec.namespaces[0] not in gone_ns:
                self._apply_tolerant(steps)
            done += len(steps)
            progress(done, total, f"removed {rec.key}")
            self.store.removed(self.lab, rec.key)
            change.removed.append(rec.key)
        todo_keys = {obj.key for obj in todo}
        change.kept = [obj.key for obj in desired if obj.key not in todo_keys]
        for chunk in _chunks(todo, BATCH_STEPS):
            self.store.begin_many(self.lab, [
                (obj.key, obj.kind, {"spec": obj.spec, "delete": [step_to_dict(s) for s in obj.delete],
                                     "owns": obj.namespaces[0] if obj.owns_namespace else None,
                                     "detail": obj.detail}, obj.namespaces)
                for obj in chunk])
            steps = [step for obj in chunk for step in obj.create]
            # new namespaces depend on nothing: create them first, in one go (one thread in the kernel backend)
            fresh = [step for step in steps if isinstance(step, CreateNamespace)]
            self.backend.apply(fresh + [step for step in steps if not isinstance(step, CreateNamespace)])
            self.store.done_many(self.lab, [obj.key for obj in chunk])
            done += sum(len(obj.create) for obj in chunk)
            progress(done, total, f"created {chunk[-1].key}")
            for obj in chunk:
                rebuilt = obj.key in have and obj.key not in doomed
                (change.updated if rebuilt else change.created).append(obj.key)
        return change

    def _apply_tolerant(self, steps: Sequence[Step]) -> None:
        """Apply removal steps; a namespace that is already gone means there is nothing left to remove."""
        for step in steps:
            try:
                self.backend.apply([step])
            except BackendError as exc:
                if exc.errno != errno.ENOENT:
                    raise

    def down(self, progress: Progress = _quiet) -> list[str]:
        """Remove every namespace the lab has on record (pending ones too); forget the lab."""
        namespaces: list[str] = []
        for rec in self.store.objects(self.lab):
            owned = rec.spec.get("owns")
            if owned and owned not in namespaces:
                namespaces.append(owned)
        for index, ns in enumerate(reversed(namespaces), 1):
            self.backend.apply([DeleteNamespace(ns)])
            progress(index, len(namespaces), f"deleted {ns}")
        self.store.forget_lab(self.lab)
        return namespaces

    # -- inspection ---------------------------------------------------------------
    def deployed(self) -> Topology:
        """The model as last deployed (``NotFoundError`` if the lab is not up)."""
        info = self.store.lab(self.lab)
        if info is None or info.get("model") is None:
            raise NotFoundError(f"lab {self.lab!r} is not deployed")
        return from_dict(info["model"])

    def objects(self) -> list[ObjectRecord]:
        return self.store.objects(self.lab)

    def status(self) -> dict[str, Any]:
        """Hosts, networks, sandboxes and endpoints with addresses and state, as plain data.

        ``state`` is ``up`` (recorded done and its namespace exists), ``pending`` (a
        deploy did not finish it) or ``missing`` (recorded, but its namespace is gone).
        """
        info = self.store.lab(self.lab)
        if info is None:
            raise NotFoundError(f"lab {self.lab!r} is not deployed")
        topo = from_dict(info["model"]) if info.get("model") else Topology(self.lab)
        addressing = info.get("addressing") or {"networks": {}, "endpoints": {}}
        present = set(self.backend.namespaces())
        records = {rec.key: rec for rec in self.store.objects(self.lab)}

        def state(key: str) -> str:
            rec = records.get(key)
            if rec is None:
                return "absent"
            if rec.status != "done":
                return "pending"
            return "up" if all(ns in present for ns in rec.namespaces) else "missing"

        def owned(key: str) -> str | None:
            rec = records.get(key)
            return str(rec.spec["owns"]) if rec and rec.spec.get("owns") else None

        hosts = [{"name": h.name, "namespace": owned(f"ns/host/{h.name}"),
                  "address": (records[f"ns/host/{h.name}"].spec["spec"]["ip"]
                              if f"ns/host/{h.name}" in records else None),
                  "state": state(f"ns/host/{h.name}")} for h in topo.hosts]
        networks = [{"name": n.name, "driver": n.driver, "internal": n.internal,
                     "hosts": topo.network_hosts(n.name),
                     "subnet": addressing["networks"].get(n.name, {}).get("subnet"),
                     "gateway": addressing["networks"].get(n.name, {}).get("gateway"),
                     "state": _worst([state(f"net/{n.name}@{h}") for h in topo.network_hosts(n.name)])}
                    for n in topo.networks]
        sandboxes = [{"name": sb.name, "host": topo.host_of(sb.name), "namespace": owned(f"ns/sbx/{sb.name}"),
                      "ports": [str(p) for p in sb.ports],
                      "state": state(f"ns/sbx/{sb.name}") if f"ns/sbx/{sb.name}" in records
                      else state(f"ns/host/{topo.host_of(sb.name)}")} for sb in topo.sandboxes]
        endpoints = []
        for ep in topo.endpoints:
            rec = records.get(f"ep/{ep.sandbox}/{ep.network}")
            address = addressing["endpoints"].get(ep.sandbox, {}).get(ep.network, {})
            endpoints.append({"sandbox": ep.sandbox, "network": ep.network,
                              "interface": rec.spec["spec"]["ifname"] if rec else None,
                              "ip": address.get("ip"), "mac": address.get("mac"), "aliases": list(ep.aliases),
                              "state": state(f"ep/{ep.sandbox}/{ep.network}")})
        return {"lab": self.lab, "backend": info["backend"], "source": info.get("source"), "hosts": hosts,
                "networks": networks, "sandboxes": sandboxes, "endpoints": endpoints}

    def sandbox_namespace(self, sandbox: str) -> str:
        """The namespace a sandbox's processes run in (its host's, for host networking)."""
        for rec in self.store.objects(self.lab):
            if rec.kind == "sandbox" and rec.spec["detail"].get("sandbox") == sandbox:
                return str(rec.spec["owns"])
        topo = self.deployed()
        record = topo.sandbox(sandbox)  # NotFoundError when unknown
        host = topo.host_of(record.name)
        for rec in self.store.objects(self.lab):
            if rec.kind == "host" and rec.spec["detail"].get("host") == host:
                return str(rec.spec["owns"])
        raise NotFoundError(f"sandbox {sandbox!r} of lab {self.lab!r} has no namespace")

    # -- libnetwork verbs (edit the deployed model, then reconcile) ----------------
    def _edit(self, edit: Callable[[Topology], Any]) -> Any:
        try:
            topo = self.deployed()
        except NotFoundError:
            topo = Topology(self.lab)
        result = edit(topo)
        self.up(topo)
        return result

    def new_network(self, name: str, driver: str = "bridge", **options: Any) -> Network:
        """libnetwork ``NewNetwork``: create a network (ConflictError if the name exists)."""
        result: Network = self._edit(lambda topo: topo.add_network(name, driver, **options))
        return result

    def network_by_name(self, name: str) -> Network:
        return self.deployed().network(name)

    def networks(self) -> list[Network]:
        return self.deployed().networks

    def new_sandbox(self, name: str, host: str | None = None, ports: Sequence[str | PortMapping] = ()) -> Sandbox:
        result: Sandbox = self._edit(lambda topo: topo.add_sandbox(name, host, ports))
        return result

    def join(self, sandbox: str, network: str, ip: str | None = None, aliases: Sequence[str] = ()) -> Endpoint:
        """libnetwork ``CreateEndpoint`` + ``Join`` (ConflictError when already joined)."""
        result: Endpoint = self._edit(lambda topo: topo.connect(sandbox, network, ip=ip, aliases=aliases))
        return result

    def leave(self, sandbox: str, network: str) -> None:
        """libnetwork ``Leave`` + ``Delete`` of the endpoint (NotFoundError when not joined)."""
        self._edit(lambda topo: topo.disconnect(sandbox, network))

    def delete_sandbox(self, name: str) -> None:
        self._edit(lambda topo: topo.remove_sandbox(name))

    def delete_network(self, name: str, force: bool = False) -> None:
        """libnetwork ``network.Delete``: refused while endpoints exist unless ``force``."""
        self._edit(lambda topo: topo.remove_network(name, force=force))

    def add_host(self, name: str) -> None:
        self._edit(lambda topo: topo.add_host(name))


def _worst(states: list[str]) -> str:
    for candidate in ("missing", "pending", "absent"):
        if candidate in states:
            return candidate
    return "up"
