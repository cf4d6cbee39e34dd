"""LabView: driven through its widgets (found by their CSS classes), on the simulator and once on the kernel."""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import netlab.widgets_lab
import netlab.widgets_lab_session
from netlab import BackendError, InvalidRequestError, Lab, NotFoundError, Topology
from netlab.controller import Controller
from netlab.runtime import open_backend, open_store
from netlab.validation import load_valid
from netlab.widgets import LabView
from tests.kernel_helpers import lab_namespaces, topology
from tests.test_scenario_sim import labs_in
from tests.widget_helpers import one

ROOT = Path(__file__).parent.parent
PNG = b"\x89PNG\r\n\x1a\n"
#: every widget hook the module docstring documents
HOOKS = ["netlab-labview", "netlab-status", "netlab-backend", "netlab-backend-note", "netlab-deploy", "netlab-teardown",
         "netlab-progress", "netlab-progress-label", "netlab-lab-status", "netlab-recompute", "netlab-heatmap-summary",
         "netlab-heatmap", "netlab-trace-src", "netlab-trace-dst", "netlab-trace-port", "netlab-trace-run",
         "netlab-trace-hops", "netlab-trace-picture"]




def click(view: LabView, css: str) -> None:
    control = one(view, css)
    assert not control.disabled, f"{css} is disabled: {view.status}"
    control.click()


def trace_by_hand(view: LabView, src: str, dst: str, port: str = "") -> str:
    """Choose source, destination and port as a user does, click Trace; the hops panel's HTML, unescaped."""
    one(view, "netlab-trace-src").value = src
    one(view, "netlab-trace-dst").value = dst
    one(view, "netlab-trace-port").value = port
    click(view, "netlab-trace-run")
    return html.unescape(one(view, "netlab-trace-hops").value)


def picture(view: LabView, css: str) -> bytes:
    """The bytes of an Image widget (ipywidgets hands them out as a memoryview)."""
    return bytes(one(view, css).value)


def sim_namespaces(state: Path, lab: str) -> list[str]:
    """The namespaces of ``lab`` in the simulated world kept in the store."""
    store = open_store(state)
    try:
        return sorted(ns for ns in open_backend("sim", store).namespaces() if ns.startswith(f"nl-{lab}-"))
    finally:
        store.close()



@pytest.fixture
def icc() -> Topology:
    topo, _ = load_valid(ROOT / "scenarios" / "icc-off.yaml")
    return topo


@pytest.fixture
def view(icc: Topology, tmp_path: Path) -> Iterator[LabView]:
    with LabView(icc, state_dir=tmp_path) as shown:
        yield shown
    assert labs_in(tmp_path) == []


@pytest.fixture
def deployed(view: LabView) -> LabView:
    click(view, "netlab-deploy")
    assert not view.status_is_error, view.status
    return view


class TestDisplay:
    def test_bare_view_displays_as_a_widget(self, view: LabView) -> None:
        bundle = view._repr_mimebundle_()
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == view.widget.model_id
        assert repr(view) == "<LabView of lab 'icc-off': not deployed>"

    def test_every_documented_hook_exists_once(self, view: LabView) -> None:
        for css in HOOKS:
            one(view, css)
            assert f"``{css}``" in (netlab.widgets_lab.__doc__ or ""), f"{css} is not documented"

    def test_before_deploying_only_deploy_is_offered(self, view: LabView) -> None:
        assert not one(view, "netlab-deploy").disabled
        assert [one(view, css).disabled for css in ("netlab-teardown", "netlab-recompute", "netlab-trace-run")] == [
            True, True, True]
        assert "not deployed" in one(view, "netlab-lab-status").value
        assert picture(view, "netlab-heatmap") == b""


class TestDeploy:
    def test_deploy_button_deploys_and_shows_status_heatmap_and_choices(self, deployed: LabView,
                                                                        tmp_path: Path) -> None:
        assert deployed.lab is not None and deployed.lab.backend.name == "simulated"
        assert deployed.status.startswith("deployed lab 'icc-off' on the sim backend: 4 containers, 7 namespaces")
        table = one(deployed, "netlab-lab-status").value
        for name in ("peer1", "peer2", "web", "worker"):
            assert f">{name}<" in table and f"nl-icc-off-s-{name}" in table
        assert "10.40.1.10/24" in table and "8080:80/tcp" in table
        assert picture(deployed, "netlab-heatmap").startswith(PNG)
        assert one(deployed, "netlab-heatmap").layout.display is None
        assert "4 containers" in one(deployed, "netlab-heatmap-summary").value
        progress = one(deployed, "netlab-progress")
        assert progress.max > 10 and progress.value == progress.max and progress.bar_style == "success"
        assert f"{progress.max}/{progress.max} steps" in one(deployed, "netlab-progress-label").value
        assert list(one(deployed, "netlab-trace-src").options) == ["peer1", "peer2", "web", "worker"]
        assert list(one(deployed, "netlab-trace-dst").options) == ["peer1", "peer2", "web", "worker", "internet"]
        assert one(deployed, "netlab-backend").disabled  # no switching backends under a deployed lab
        assert sim_namespaces(tmp_path, "icc-off") == sorted(deployed.call(lambda lab: lab.namespaces()))

    def test_the_heatmap_follows_a_container_removed_from_the_lab(self, deployed: LabView, icc: Topology,
                                                                  tmp_path: Path) -> None:
        before = picture(deployed, "netlab-heatmap")
        assert deployed.last_matrix is not None and "peer2" in deployed.last_matrix.sources
        icc.expect.clear()  # its checks name peer2
        icc.remove_sandbox("peer2")
        click(deployed, "netlab-deploy")  # applies the difference
        assert not deployed.status_is_error, deployed.status
        after = picture(deployed, "netlab-heatmap")
        assert after.startswith(PNG) and after != before
        assert deployed.last_matrix is not None and deployed.last_matrix.sources == ["peer1", "web", "worker"]
        assert "nl-icc-off-s-peer2" not in sim_namespaces(tmp_path, "icc-off")
        assert "peer2" not in one(deployed, "netlab-lab-status").value
        assert list(one(deployed, "netlab-trace-src").options) == ["peer1", "web", "worker"]

    def test_recompute_redraws_the_heatmap(self, deployed: LabView) -> None:
        one(deployed, "netlab-heatmap").value = b""
        click(deployed, "netlab-recompute")
        assert picture(deployed, "netlab-heatmap").startswith(PNG)
        assert deployed.status == "reachability recomputed: 12 address pairs, 0 differ from the model"

    def test_teardown_removes_every_namespace_and_clears_the_view(self, deployed: LabView, tmp_path: Path) -> None:
        deployed.trace("peer1", "peer2")
        click(deployed, "netlab-teardown")
        assert deployed.status == "lab 'icc-off' torn down: 7 namespaces removed"
        assert sim_namespaces(tmp_path, "icc-off") == [] and labs_in(tmp_path) == []
        assert deployed.lab is None and deployed.last_matrix is None and deployed.last_trace is None
        assert picture(deployed, "netlab-heatmap") == b"" and one(deployed, "netlab-heatmap").layout.display == "none"
        assert one(deployed, "netlab-trace-hops").value == "" and picture(deployed, "netlab-trace-picture") == b""
        assert "not deployed" in one(deployed, "netlab-lab-status").value
        assert list(one(deployed, "netlab-trace-src").options) == [] and one(deployed, "netlab-trace-run").disabled
        assert not one(deployed, "netlab-backend").disabled or deployed.kernel_unavailable is not None
        assert not deployed.teardown() and "not deployed" in deployed.status

    def test_a_model_with_problems_is_refused_in_the_status_line(self, icc: Topology, tmp_path: Path) -> None:
        icc.update_network("open", subnet="10.40.1.0/24")  # overlaps 'quiet'
        view = LabView(icc, state_dir=tmp_path)
        click(view, "netlab-deploy")
        assert view.status_is_error and "subnet-overlap" in view.status
        assert "netlab-status-error" in one(view, "netlab-status").value
        assert one(view, "netlab-progress").bar_style == "danger"
        assert view.lab is None and labs_in(tmp_path) == [] and not one(view, "netlab-deploy").disabled

    def test_a_refused_change_keeps_the_deployed_lab_in_hand(self, deployed: LabView, icc: Topology,
                                                             tmp_path: Path) -> None:
        icc.update_network("open", subnet="10.40.1.0/24")
        assert not deployed.deploy() and "subnet-overlap" in deployed.status
        assert deployed.lab is not None and labs_in(tmp_path) == ["icc-off"]
        assert deployed.trace("peer1", "peer2") is not None  # the lab as it was still answers
        assert deployed.teardown() and sim_namespaces(tmp_path, "icc-off") == []

    def test_an_unreadable_file_is_a_status_line(self, tmp_path: Path) -> None:
        view = LabView(tmp_path / "missing.yaml", state_dir=tmp_path)
        assert view.name == "missing" and not view.deploy()
        assert view.status_is_error and "cannot read" in view.status and "missing.yaml" in view.status


    def test_an_unexpected_failure_is_a_status_line_too(self, view: LabView, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
        def broken(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(netlab.widgets_lab_session.Lab, "up", broken)
        assert not view.deploy() and view.lab is None
        assert view.status == ("cannot deploy lab 'icc-off': unexpected OSError: [Errno 28] No space left on device "
                               "(see the log)")

    def test_a_failed_teardown_keeps_the_lab_in_hand_to_retry(self, deployed: LabView, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        def refused(self: Controller, progress: object = None) -> list[str]:
            raise BackendError("netns delete: device or resource busy", 16)

        with monkeypatch.context() as patch:
            patch.setattr(Controller, "down", refused)
            click(deployed, "netlab-teardown")
        assert deployed.status_is_error and "device or resource busy" in deployed.status
        assert "`netlab down icc-off`" in deployed.status and one(deployed, "netlab-progress").bar_style == "danger"
        assert deployed.lab is not None and not one(deployed, "netlab-teardown").disabled
        click(deployed, "netlab-teardown")
        assert not deployed.status_is_error and sim_namespaces(tmp_path, "icc-off") == []


class TestTrace:
    def test_a_reachable_pair_is_delivered_hop_by_hop(self, deployed: LabView) -> None:
        text = trace_by_hand(deployed, "peer1", "peer2", "53/udp")
        assert "netlab-trace-ok" in text and "netlab-drop" not in text
        assert text.count('class="netlab-hop"') >= 6
        assert "deliver to 10.40.2.3:53" in text and "the answer came back" in text
        assert picture(deployed, "netlab-trace-picture").startswith(PNG)
        assert deployed.last_trace is not None and deployed.last_trace.ok
        assert not deployed.status_is_error and deployed.status.startswith("traced peer1 -> peer2 (53/udp): delivered")

    def test_an_icc_off_pair_shows_the_drop_and_its_rule(self, deployed: LabView) -> None:
        text = trace_by_hand(deployed, "worker", "web")
        assert "netlab-trace-failed" in text and text.count('class="netlab-drop"') == 1
        assert '<b class="netlab-drop-obj">nft chain forward</b>' in text
        assert 'iifname "br-quiet" oifname "br-quiet" drop</code>' in text
        assert "DROPPED in nl-icc-off-h-h1 at nft chain forward" in deployed.status
        assert not deployed.status_is_error  # a drop is an answer, not a failure of the view
        assert deployed.last_trace is not None and not deployed.last_trace.delivered

    def test_an_address_typed_in_and_the_internet(self, deployed: LabView) -> None:
        assert "netlab-trace-failed" in trace_by_hand(deployed, "worker", "10.40.1.10", "80/tcp")
        assert "netlab-trace-ok" in trace_by_hand(deployed, "worker", "internet")
        assert deployed.last_trace is not None and deployed.last_trace.dst == "192.0.2.1"

    @pytest.mark.parametrize(("src", "dst", "port", "said"), [
        ("peer1", "peer2", "http", "port 'http' is not PORT[/tcp|udp]"),
        ("peer1", "peer2", "99999/tcp", "port '99999/tcp'"),
        ("peer1", "nobody", "", "no container or alias 'nobody'"),
        ("peer1", "", "", "choose a source container and a destination"),
    ])
    def test_bad_input_is_a_status_line(self, deployed: LabView, src: str, dst: str, port: str, said: str) -> None:
        trace_by_hand(deployed, "peer1", "peer2")
        shown = one(deployed, "netlab-trace-hops").value
        trace_by_hand(deployed, src, dst, port)
        assert deployed.status_is_error and said in deployed.status
        assert one(deployed, "netlab-trace-hops").value == shown  # the last good trace stays

    def test_an_unknown_source_through_the_api(self, deployed: LabView) -> None:
        assert deployed.trace("ghost", "web") is None and "no container or alias 'ghost'" in deployed.status

    def test_the_api_fills_the_explorer(self, deployed: LabView) -> None:
        found = deployed.trace(" web ", "peer1", " icmp ")
        assert found is not None and found.probe.proto == "icmp"
        assert (one(deployed, "netlab-trace-src").value, one(deployed, "netlab-trace-dst").value,
                one(deployed, "netlab-trace-port").value) == ("web", "peer1", "icmp")

    def test_tracing_before_deploying_says_so(self, view: LabView) -> None:
        assert view.trace("peer1", "peer2") is None and view.status == "cannot trace: deploy the lab first"
        assert view.matrix() is None and view.status_is_error


class TestBackends:
    def test_the_kernel_is_disabled_with_a_note_when_it_cannot_run(self, icc: Topology, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(netlab.widgets_lab, "kernel_unavailable", lambda: "no namespaces in this test")
        view = LabView(icc, backend="kernel", state_dir=tmp_path)
        toggle = one(view, "netlab-backend")
        assert toggle.disabled and toggle.value == "sim" and view.backend == "sim"
        assert "no namespaces in this test" in one(view, "netlab-backend-note").value
        assert view.status_is_error and "the kernel backend cannot run here" in view.status
        assert not view.set_backend("kernel") and view.backend == "sim"
        with view:
            assert view.deploy() and view.lab is not None and view.lab.backend.name == "simulated"

    def test_the_toggle_chooses_the_backend_when_the_kernel_can_run(self, icc: Topology, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(netlab.widgets_lab, "kernel_unavailable", lambda: None)
        view = LabView(icc, state_dir=tmp_path)
        toggle = one(view, "netlab-backend")
        assert not toggle.disabled and one(view, "netlab-backend-note").value == ""
        toggle.value = "kernel"
        assert view.backend == "kernel" and "stays up until Tear down" in view.status
        toggle.value = "sim"
        with view:
            assert view.deploy()
            assert not view.set_backend("kernel") and "tear it down before choosing kernel" in view.status
            assert toggle.value == "sim"
        assert not view.set_backend("bogus") and "unknown backend 'bogus'" in view.status


class TestThreads:
    def test_callbacks_on_another_thread_use_the_same_lab(self, deployed: LabView) -> None:
        """ipykernel 7 runs some widget callbacks on a subshell thread; the lab's SQLite store is bound to one."""
        outcome: list[str] = []

        def elsewhere() -> None:
            try:
                trace_by_hand(deployed, "peer1", "peer2")
                outcome.append(deployed.status)
            except BaseException as exc:  # the assertion below shows it
                outcome.append(repr(exc))

        worker = threading.Thread(target=elsewhere, name="subshell-test")
        worker.start()
        worker.join(timeout=60)
        assert len(outcome) == 1 and outcome[0].startswith("traced peer1 -> peer2 (ping): delivered"), outcome
        click(deployed, "netlab-recompute")  # and back on this thread
        assert not deployed.status_is_error, deployed.status

    def test_call_runs_on_the_views_thread(self, deployed: LabView) -> None:
        assert deployed.call(lambda lab: lab.ping("peer1", "peer2"))
        assert deployed.call(lambda lab: threading.current_thread().name).startswith("netlab-labview")
        deployed.teardown()
        with pytest.raises(NotFoundError, match="lab 'icc-off' is not deployed"):
            deployed.call(lambda lab: lab.namespaces())
        deployed.close()
        with pytest.raises(InvalidRequestError, match="closed"):
            deployed.call(lambda lab: lab.namespaces())


class TestLifeCycle:
    def test_a_new_view_attaches_to_a_deployed_lab(self, icc: Topology, tmp_path: Path) -> None:
        first = LabView(icc, state_dir=tmp_path)
        assert first.deploy()
        second = LabView(icc, state_dir=tmp_path)
        assert second.lab is not None and "was deployed already" in second.status
        assert not one(second, "netlab-teardown").disabled
        assert second.teardown() and sim_namespaces(tmp_path, "icc-off") == []
        assert not first.teardown() and "taken down elsewhere" in first.status and first.lab is None
        assert sim_namespaces(tmp_path, "icc-off") == []  # the stale handle did not write its world back

    def test_close_tears_down_and_retires_the_view(self, icc: Topology, tmp_path: Path) -> None:
        view = LabView(icc, name="closing", state_dir=tmp_path)
        assert view.deploy() and labs_in(tmp_path) == ["closing"]
        assert view.close() and labs_in(tmp_path) == [] and sim_namespaces(tmp_path, "closing") == []
        assert view.status == "closed" and one(view, "netlab-deploy").disabled
        assert not view.deploy() and view.status == "cannot deploy: this view is closed"
        assert icc.name == "icc-off"  # the caller's model is not renamed


def test_a_kernel_lab_deployed_traced_and_torn_down(kernel_ok: None, tmp_path: Path) -> None:
    topo = topology("""
hosts: [h1]
networks:
  front: {subnet: 10.77.1.0/24}
  back: {subnet: 10.77.2.0/24}
containers:
  a: {networks: [front]}
  b: {networks: [front]}
  c: {networks: [back]}
""")
    view = LabView(topo, state_dir=tmp_path)
    try:
        assert view.kernel_unavailable is None and not one(view, "netlab-backend").disabled
        one(view, "netlab-backend").value = "kernel"
        click(view, "netlab-deploy")
        assert not view.status_is_error, view.status
        assert view.lab is not None and view.lab.backend.name == "kernel"
        assert f"netlab down {topo.name}" in view.status
        assert f"nl-{topo.name}-s-a" in lab_namespaces(topo.name)
        assert picture(view, "netlab-heatmap").startswith(PNG)
        assert view.last_matrix is not None and view.last_matrix.disagreements() == []
        text = trace_by_hand(view, "a", "b")
        assert "netlab-trace-ok" in text and f"nl-{topo.name}-s-b" in text
        assert "netlab-drop" in trace_by_hand(view, "a", "c")  # bridges are isolated from each other
        click(view, "netlab-teardown")
        assert not view.status_is_error, view.status
        assert lab_namespaces(topo.name) == [] and labs_in(tmp_path) == []
    finally:
        view.close()
        if labs_in(tmp_path):  # the view failed to take it down: do it here, then fail
            Lab.attach(topo.name, state_dir=tmp_path).down()
        assert lab_namespaces(topo.name) == []
