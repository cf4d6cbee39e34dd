"""Planning: what a deploy of a (valid, addressed) topology would do, step by step, touching nothing.

``netlab plan`` prints the very steps the drivers emit for ``up`` on an empty
lab (see :mod:`netlab.lab`), grouped by the object group they build.
"""

from __future__ import annotations

from dataclasses import dataclass

from netlab.addressing import Addressing
from netlab.backends import step_to_dict
from netlab.lab import desired_objects, with_gateway_bridges
from netlab.model import Topology

__all__ = ["PlannedObject", "plan_objects"]


@dataclass(frozen=True, slots=True)
class PlannedObject:
    """One step: which group it builds, what it is, where it acts, on what, and the rest of its fields."""

    group: str
    kind: str
    namespace: str
    name: str
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "namespace": self.namespace, "name": self.name,
                "detail": self.detail}


_NAME_FIELDS = ("name", "ifname", "dst", "key")


def plan_objects(topo: Topology, addressing: Addressing | None = None) -> list[PlannedObject]:
    """Every step ``netlab up`` would run for ``topo`` on an empty lab, in order.

    ``addressing`` is recomputed for the deployable model (which may include
    gateway bridges); pass the validated one only to skip nothing.
    """
    from netlab.addressing import allocate

    deployable = with_gateway_bridges(topo)
    if addressing is None or deployable is not topo:
        addressing = allocate(deployable)
    plan: list[PlannedObject] = []
    for obj in desired_objects(topo.name, deployable, addressing):
        for step in obj.create:
            fields = step_to_dict(step)
            kind = fields.pop("step")
            ns = str(fields.pop("ns", ""))
            name = next((str(fields.pop(f)) for f in _NAME_FIELDS if fields.get(f) is not None), "")
            if kind == "ApplyRuleset":
                rules = sum(1 for c in fields.pop("ruleset")["nftables"] if "rule" in c.get("add", {}))
                fields["rules"] = rules
            detail = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, False))
            plan.append(PlannedObject(obj.key, kind, ns, name, detail))
    return plan
