"""TopologyEditor: driven through its widgets (found by their CSS classes, as a browser test finds them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netlab import Topology
from netlab.errors import InvalidRequestError
from netlab.widgets import TopologyEditor
from netlab.widgets_editor_edits import locate_problem, parse_options
from netlab.widgets_editor_panels import FAULT_SIGN
from tests.widget_helpers import by_class, one


def labels(editor: TopologyEditor, kind: str) -> list[str]:
    return [label for label, _ in one(editor, f"netlab-{kind}-select").options]


def snapshot(topo: Topology) -> str:
    return json.dumps(topo.to_dict())


@pytest.fixture
def editor() -> TopologyEditor:
    topo = Topology("demo")
    topo.add_host("h1")
    topo.add_network("front", subnet="10.0.1.0/24")
    topo.add_network("back", subnet="10.0.2.0/24")
    topo.add_sandbox("web", host="h1")
    topo.connect("web", "front", ip="10.0.1.10")
    return TopologyEditor(topo)


class TestDisplay:
    def test_bare_editor_displays_as_a_widget(self, editor: TopologyEditor) -> None:
        bundle = editor._repr_mimebundle_()
        assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == editor.widget.model_id
        assert "netlab-editor" in editor.widget._dom_classes

    def test_documented_hooks_exist(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        editor.select("container", "web")
        editor.select("host", "h1")
        for css in ("netlab-status", "netlab-problems", "netlab-drawing", "netlab-new-container-name",
                    "netlab-add-container", "netlab-container-networks", "netlab-network-select", "netlab-subnet",
                    "netlab-options", "netlab-driver", "netlab-new-host-name", "netlab-add-host",
                    "netlab-new-network-name", "netlab-add-network", "netlab-remove-network", "netlab-underlay-ip",
                    "netlab-container-host", "netlab-endpoint-ip", "netlab-disconnect", "netlab-connect"):
            one(editor, css)

    def test_topology_has_a_picture_repr(self, editor: TopologyEditor) -> None:
        assert editor.topology._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


class TestAddFromWidgets:
    def test_add_container_joins_networks_and_redraws(self, editor: TopologyEditor) -> None:
        before = one(editor, "netlab-drawing").value
        one(editor, "netlab-new-container-name").value = "db"
        one(editor, "netlab-container-networks").value = ("back",)
        one(editor, "netlab-add-container").click()
        assert [ep.network for ep in editor.topology.endpoints_of("db")] == ["back"]
        assert editor.topology.host_of("db") == "h1"
        assert not editor.status_is_error and "db" in one(editor, "netlab-status").value
        assert labels(editor, "container") == ["web", "db"]
        assert editor.selected("container") == "db"
        after = one(editor, "netlab-drawing").value
        assert after[:4] == b"\x89PNG" and after != before
        assert one(editor, "netlab-new-container-name").value == ""

    def test_add_host_and_network(self, editor: TopologyEditor) -> None:
        one(editor, "netlab-new-host-name").value = "h2"
        one(editor, "netlab-add-host").click()
        one(editor, "netlab-new-network-name").value = "ov"
        one(editor, "netlab-new-network-driver").value = "overlay"
        one(editor, "netlab-new-network-subnet").value = "10.9.0.0/24"
        one(editor, "netlab-add-network").click()
        assert [h.name for h in editor.topology.hosts] == ["h1", "h2"]
        assert editor.topology.network("ov").driver == "overlay"
        assert editor.topology.network("ov").subnet == "10.9.0.0/24"
        assert one(editor, "netlab-driver").value == "overlay"  # the new network's form is shown
        new_host = one(editor, "netlab-new-container-host")
        assert [value for _, value in new_host.options] == ["h1", "h2"] and new_host.value == "h1"
        new_host.value = "h2"
        editor.set_network("ov", mtu="1400")
        assert new_host.value == "h2"  # the choice survives a refresh
        one(editor, "netlab-new-container-name").value = "api"
        one(editor, "netlab-add-container").click()
        assert editor.topology.host_of("api") == "h2"

    def test_duplicate_name_is_shown_and_changes_nothing(self, editor: TopologyEditor) -> None:
        before = snapshot(editor.topology)
        one(editor, "netlab-new-container-name").value = "web"
        one(editor, "netlab-add-container").click()
        assert editor.status_is_error
        assert "already exists" in editor.status and "netlab-status-error" in one(editor, "netlab-status").value
        assert snapshot(editor.topology) == before
        assert one(editor, "netlab-new-container-name").value == "web"  # kept, to be corrected

    def test_failed_connect_removes_the_half_added_container(self, editor: TopologyEditor) -> None:
        before = snapshot(editor.topology)
        assert editor.add_container("db", networks=["back", "nowhere"]) is False
        assert "nowhere" in editor.status
        assert snapshot(editor.topology) == before

    def test_empty_name_is_refused(self, editor: TopologyEditor) -> None:
        one(editor, "netlab-add-host").click()
        assert editor.status == "cannot add host '': give the new host a name"
        assert len(editor.topology.hosts) == 1


class TestProblemsFollowEdits:
    def test_bad_subnet_marks_network_field_and_list(self, editor: TopologyEditor) -> None:
        one(editor, "netlab-network-select").value = "front"
        subnet = one(editor, "netlab-subnet")
        assert subnet.value == "10.0.1.0/24"
        subnet.value = "10.0.1.5/24"
        assert [(p.path, p.code) for p in editor.problems] == [("networks.front.subnet", "bad-subnet")]
        assert labels(editor, "network") == [f"front {FAULT_SIGN}", "back"]
        assert "netlab-invalid" in subnet._dom_classes and "10.0.1.5/24" in subnet.tooltip
        shown = one(editor, "netlab-problems").value
        assert shown.count('class="netlab-problem"') == 1 and "networks.front.subnet" in shown
        assert "host bits must be zero" in shown
        assert "10.0.1.5/24" in one(editor, "netlab-network-form").children[-1].value
        subnet.value = "10.0.1.0/24"
        assert editor.problems == []
        assert labels(editor, "network") == ["front", "back"]
        assert "netlab-invalid" not in subnet._dom_classes
        assert "netlab-no-problems" in one(editor, "netlab-problems").value

    def test_overlapping_subnet_names_the_network(self, editor: TopologyEditor) -> None:
        editor.select("network", "back")
        one(editor, "netlab-subnet").value = "10.0.1.128/25"
        (problem,) = editor.problems
        assert problem.code == "subnet-overlap" and "'back'" in problem.message
        faulty = problem.path.split(".")[1]  # validation reports the later of the two networks
        assert labels(editor, "network") == [f"{name} {FAULT_SIGN}" if name == faulty else name
                                             for name in ("front", "back")]
        editor.select("network", faulty)
        assert "netlab-invalid" in one(editor, "netlab-subnet")._dom_classes

    def test_drawing_heading_counts_problems(self, editor: TopologyEditor) -> None:
        clean = one(editor, "netlab-drawing").value
        editor.set_network("front", subnet="10.0.1.5/24")
        assert one(editor, "netlab-drawing").value != clean
        editor.set_network("front", subnet="10.0.1.0/24")
        assert one(editor, "netlab-drawing").value == clean

    def test_endpoint_ip_field_is_marked(self, editor: TopologyEditor) -> None:
        editor.select("container", "web")
        (ip,) = by_class(editor.widget, "netlab-endpoint-ip")
        assert ip.value == "10.0.1.10"
        ip.value = "10.0.2.10"
        assert editor.topology.endpoint("web", "front").ip == "10.0.2.10"
        assert [p.path for p in editor.problems] == ["containers.web.networks.front.ip"]
        assert labels(editor, "container") == [f"web {FAULT_SIGN}"]
        assert "netlab-invalid" in ip._dom_classes
        ip.value = ""
        assert editor.topology.endpoint("web", "front").ip is None and editor.problems == []

    def test_underlay_ip_field_is_marked_and_keeps_order(self, editor: TopologyEditor) -> None:
        editor.add_host("h2")
        editor.add_container("db", host="h2", networks=["back", "front"])
        order = snapshot(editor.topology)
        editor.select("host", "h1")
        field = one(editor, "netlab-underlay-ip")
        field.value = "10.1.1.1"
        assert editor.topology.host("h1").underlay_ip == "10.1.1.1"
        assert [p.path for p in editor.problems if p.path.startswith("hosts.")] == ["hosts.h1.underlay_ip"]
        assert "netlab-invalid" in field._dom_classes
        field.value = ""
        assert snapshot(editor.topology) == order
        assert [ep.network for ep in editor.topology.endpoints_of("db")] == ["back", "front"]

    def test_on_change_follows_applied_edits_only(self, editor: TopologyEditor) -> None:
        seen: list[int] = []
        editor.on_change(lambda ed: seen.append(len(ed.problems)))
        editor.set_network("front", subnet="bad")
        editor.add_host("h1")
        editor.set_network("front", subnet="10.0.1.0/24")
        assert seen == [1, 0]

    def test_batch_refreshes_once(self, editor: TopologyEditor) -> None:
        seen: list[int] = []
        editor.on_change(lambda ed: seen.append(len(ed.topology.sandboxes)))
        with editor.batch():
            for name in ("a", "b", "c"):
                editor.add_container(name, networks=["back"])
            assert seen == []
        assert seen == [4]
        assert labels(editor, "container") == ["web", "a", "b", "c"]


class TestFormEdits:
    def test_options_lines_apply(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        one(editor, "netlab-options").value = "com.docker.network.bridge.enable_icc=false\n"
        assert dict(editor.topology.network("front").options) == {"com.docker.network.bridge.enable_icc": "false"}
        assert editor.problems == []

    def test_bad_options_line_is_shown_and_kept(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        options = one(editor, "netlab-options")
        before = snapshot(editor.topology)
        options.value = "parent=eth0\njunk"
        assert editor.status == "cannot change network 'front': options line 2 'junk' is not key=value"
        assert snapshot(editor.topology) == before
        assert "netlab-invalid" in options._dom_classes and "line 2" in options.tooltip
        one(editor, "netlab-gateway").value = "10.0.1.1"  # another field applies; the typed options stay
        assert editor.topology.network("front").gateway == "10.0.1.1"
        assert options.value == "parent=eth0\njunk" and "netlab-invalid" in options._dom_classes
        options.value = "com.docker.network.bridge.name=br-x"
        assert dict(editor.topology.network("front").options) == {"com.docker.network.bridge.name": "br-x"}
        assert "netlab-invalid" not in options._dom_classes

    def test_unknown_option_is_a_problem_on_the_options_field(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        one(editor, "netlab-options").value = "colour=blue"
        assert [p.path for p in editor.problems] == ["networks.front.options.colour"]
        assert "netlab-invalid" in one(editor, "netlab-options")._dom_classes

    def test_mtu_must_be_a_number(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        one(editor, "netlab-mtu").value = "big"
        assert editor.status_is_error and "mtu 'big' is not a whole number" in editor.status
        assert editor.topology.network("front").mtu is None
        one(editor, "netlab-mtu").value = "1400"
        assert editor.topology.network("front").mtu == 1400

    def test_driver_internal_and_host(self, editor: TopologyEditor) -> None:
        editor.select("network", "back")
        one(editor, "netlab-driver").value = "macvlan"
        one(editor, "netlab-internal").value = True
        one(editor, "netlab-host").value = "h1"
        net = editor.topology.network("back")
        assert (net.driver, net.internal, net.host) == ("macvlan", True, "h1")
        assert editor.set_network("back", name="other") is False and "cannot be edited" in editor.status

    def test_unknown_driver_is_offered_and_marked(self) -> None:
        topo = Topology("t")
        topo.add_network("lan", driver="brdge")
        editor = TopologyEditor(topo)
        editor.select("network", "lan")
        driver = one(editor, "netlab-driver")
        assert driver.value == "brdge" and "netlab-invalid" in driver._dom_classes
        assert "did you mean 'bridge'" in one(editor, "netlab-problems").value
        driver.value = "bridge"
        assert editor.problems == []

    def test_connect_and_disconnect_from_the_container_form(self, editor: TopologyEditor) -> None:
        editor.select("container", "web")
        assert one(editor, "netlab-connect-network").value == "back"
        one(editor, "netlab-connect").click()
        assert [ep.network for ep in editor.topology.endpoints_of("web")] == ["front", "back"]
        assert len(by_class(editor.widget, "netlab-endpoint-ip")) == 2
        assert one(editor, "netlab-connect").disabled
        by_class(editor.widget, "netlab-disconnect")[0].click()
        assert [ep.network for ep in editor.topology.endpoints_of("web")] == ["back"]
        assert editor.connect("web", "back") is False and "already connected" in editor.status

    def test_move_container_to_another_host(self, editor: TopologyEditor) -> None:
        editor.add_host("h2")
        editor.select("container", "web")
        one(editor, "netlab-container-host").value = "h2"
        assert editor.topology.host_of("web") == "h2"
        assert editor.topology.endpoint("web", "front").ip == "10.0.1.10"
        assert editor.set_container("web", host="h9") is False and "h9" in editor.status
        assert editor.topology.host_of("web") == "h2"


class TestRemove:
    def test_remove_buttons(self, editor: TopologyEditor) -> None:
        editor.select("network", "front")
        one(editor, "netlab-remove-network").click()
        assert "active endpoints: web" in editor.status and editor.topology.has("network", "front")
        editor.select("container", "web")
        one(editor, "netlab-remove-container").click()
        assert not editor.topology.has("sandbox", "web") and labels(editor, "container") == []
        assert editor.selected("container") is None and one(editor, "netlab-remove-container").disabled
        one(editor, "netlab-remove-network").click()
        assert not editor.topology.has("network", "front")
        editor.select("host", "h1")
        one(editor, "netlab-remove-host").click()
        assert editor.topology.hosts == []

    def test_remove_host_in_use_and_forced_network(self, editor: TopologyEditor) -> None:
        before = snapshot(editor.topology)
        assert editor.remove("host", "h1") is False and "still used by: web" in editor.status
        assert editor.remove("switch", "x") is False and "unknown kind" in editor.status
        assert snapshot(editor.topology) == before
        assert editor.remove("network", "front", force=True)
        assert editor.topology.endpoints_of("web") == []


class TestEditHelpers:
    @pytest.mark.parametrize(("text", "message"), [
        ("novalue", "options line 1 'novalue' is not key=value"),
        ("a=1\n=2", "options line 2 '=2' has no key before '='"),
        ("a=1\n\na=2", "options line 3 repeats key 'a' (first given on line 1)"),
    ])
    def test_parse_options_errors_name_the_line(self, text: str, message: str) -> None:
        with pytest.raises(InvalidRequestError) as info:
            parse_options(text)
        assert str(info.value) == message

    def test_parse_options_keeps_values_with_equals(self) -> None:
        assert parse_options(" a = x=y \n#c=1") == {"a": "x=y"}

    def test_locate_problem_handles_dotted_names(self) -> None:
        names = {"network": {"a", "a.b"}, "container": {"web"}}
        assert locate_problem("networks.a.b.subnet", names) == ("network", "a.b", "subnet")
        assert locate_problem("networks.a", names) == ("network", "a", "")
        assert locate_problem("containers.web.ports[0]", names) == ("container", "web", "ports[0]")
        assert locate_problem("underlay.subnet", names) is None


@pytest.mark.slow
def test_editor_runs_in_a_notebook_kernel(tmp_path: Any) -> None:
    """The editor displays and serialises its widget state in a real kernel (nbclient, headless)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        nbformat.v4.new_code_cell("from netlab.widgets import TopologyEditor\neditor = TopologyEditor()\neditor"),
        nbformat.v4.new_code_cell("editor.add_host('h1'); editor.add_network('front', subnet='10.0.1.5/24')\n"
                                  "editor.add_container('web', networks=['front'])\n"
                                  "print([p.code for p in editor.problems], editor.status)"),
    ]
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [out for cell in notebook.cells for out in cell.outputs]
    assert [out.output_type for out in outputs] == ["display_data", "stream"]
    view = outputs[0]["data"]["application/vnd.jupyter.widget-view+json"]
    assert outputs[1]["text"] == "['bad-subnet'] done: add container 'web'\n"
    models = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert "netlab-editor" in models[view["model_id"]]["state"]["_dom_classes"]
    states = [model["state"] for model in models.values()]
    (drawing,) = [m for m in models.values() if "netlab-drawing" in m["state"].get("_dom_classes", ())]
    assert drawing["state"]["format"] == "png"
    assert [buffer["path"] for buffer in drawing["buffers"]] == [["value"]]  # the PNG travels with the notebook
    (problems,) = [s for s in states if "netlab-problems" in s.get("_dom_classes", ())]
    assert problems["value"].count('class="netlab-problem"') == 1


def test_set_endpoint_fields(editor: TopologyEditor) -> None:
    assert editor.set_endpoint("web", "front", aliases="www, site", mac=" 02:42:0a:00:01:0a ")
    ep = editor.topology.endpoint("web", "front")
    assert (ep.aliases, ep.mac, ep.ip) == (("www", "site"), "02:42:0a:00:01:0a", "10.0.1.10")
    assert editor.set_endpoint("web", "front", colour="red") is False and "'colour'" in editor.status
    assert editor.set_endpoint("web", "back", ip="10.0.2.5") is False and "not connected" in editor.status
