"""RecordingBackend: which kernel objects each CNM verb creates."""

from __future__ import annotations

from netlab.backends import CreateBridge, CreateVeth, DeleteNamespace
from netlab.backends.recording import RecordingBackend, describe, steps_table
from netlab.backends.simulated import SimulatedBackend
from netlab.controller import Controller
from netlab.model import Topology
from netlab.store import SqliteStore


def _controller() -> tuple[Controller, RecordingBackend]:
    rec = RecordingBackend(SimulatedBackend())
    ctl = Controller("rec", rec, SqliteStore(":memory:"))
    topo = Topology("rec")
    topo.add_host("h1")
    ctl.up(topo)
    rec.take()
    return ctl, rec


def test_each_verb_records_its_own_steps() -> None:
    ctl, rec = _controller()
    ctl.new_network("front", subnet="10.9.0.0/24")
    network_steps = rec.take()
    assert any(isinstance(s, CreateBridge) and s.name == "br-front" for s in network_steps)
    assert not any(isinstance(s, CreateVeth) for s in network_steps)
    ctl.new_sandbox("web")
    ctl.join("web", "front")
    join_steps = rec.take()
    veths = [s for s in join_steps if isinstance(s, CreateVeth)]
    assert len(veths) == 1 and veths[0].ns == "nl-rec-h-h1"
    assert "CreateVeth  nl-rec-h-h1  ve-web-0" in describe(veths[0])
    ctl.down()
    assert any(isinstance(s, DeleteNamespace) for s in rec.take())
    assert rec.namespaces() == []


def test_table_rows_and_delegation() -> None:
    ctl, rec = _controller()
    ctl.new_network("front", subnet="10.9.0.0/24")
    rows = steps_table(rec.take())
    bridge = next(row for row in rows if row[0] == "CreateBridge")
    assert bridge[1] == "nl-rec-h-h1" and "name=br-front" in bridge[2]
    assert rec.to_dict() == rec.inner.to_dict()   # type: ignore[attr-defined]
    assert rec.snapshot(["nl-rec-h-h1"])["nl-rec-h-h1"].links["br-front"].kind == "bridge"
