"""HTML reprs (netlab.reprs): traces, labs, reachability; well-formed, every name escaped, drops highlighted."""

from __future__ import annotations

import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from netlab.backends.walk import Drop, Hop, Probe, Trace
from netlab.harness_matrix import MatrixResult
from netlab.harness_model import Column
from netlab.labapi import Lab
from netlab.reprs import lab_html, lab_status_html, matrix_html, trace_html, trace_verdict
from netlab.validation import load_valid

ROOT = Path(__file__).parent.parent
EVIL = '<script>alert("x")</script>&'
VOID = {"br", "img", "hr", "meta", "input"}


class Page(HTMLParser):
    """The tags, classes and text of an HTML fragment; fails on unbalanced tags."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, list[str]]] = []
        self.texts: dict[str, list[str]] = {}   # class -> the text inside each element that has it
        self.open_text: list[tuple[str, list[str]]] = []
        self.tags: list[str] = []
        self.feed(text)
        self.close()
        assert not self.stack, f"unclosed tags: {[tag for tag, _ in self.stack]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append((tag, classes))
        for css in classes:
            self.open_text.append((css, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes {self.stack[-1:] or 'nothing'}"
        _, classes = self.stack.pop()
        for css in reversed(classes):
            name, parts = self.open_text.pop()
            assert name == css
            self.texts.setdefault(css, []).append("".join(parts))

    def handle_data(self, data: str) -> None:
        for _, parts in self.open_text:
            parts.append(data)

    def text(self, css: str) -> list[str]:
        return self.texts.get(css, [])


def hop(ns: str, device: str, action: str) -> Hop:
    return Hop(ns, device, action)


def delivered() -> Trace:
    reply = Trace("nl-x-s-b", "10.0.0.2", Probe(), True, "nl-x-s-a", "10.0.0.2", None,
                  (hop("nl-x-s-b", "eth0", "route 10.0.0.0/24 dev eth0"), hop("nl-x-s-a", "eth0", "deliver")),
                  None, None)
    return Trace("nl-x-s-a", "10.0.0.3", Probe("tcp", 80), True, "nl-x-s-b", "10.0.0.3", 80,
                 (hop("nl-x-s-a", "eth0", "route 10.0.0.0/24 dev eth0"), hop("nl-x-h-h1", "br-x", "bridge"),
                  hop("nl-x-s-b", "eth0", "deliver to 10.0.0.3:80")), None, reply)


def dropped(rule: str | None = 'iifname "br-x" oifname "br-x" drop') -> Trace:
    return Trace("nl-x-s-a", "10.0.0.3", Probe(), False, None, None, None,
                 (hop("nl-x-s-a", "eth0", "route 10.0.0.0/24 dev eth0"), hop("nl-x-h-h1", "br-x", "bridge")),
                 Drop("nl-x-h-h1", "nft chain forward", "dropped by the forward chain", rule), None)


class TestTrace:
    def test_a_delivered_trace_lists_request_and_reply_hops(self) -> None:
        trace = delivered()
        page = Page(trace_html(trace))
        assert page.text("netlab-trace-ok") and not page.text("netlab-trace-failed")
        assert len(page.text("netlab-hop")) == 5 and not page.text("netlab-drop")
        assert "deliver to 10.0.0.3:80" in page.text("netlab-request")[0]
        assert "nl-x-s-a" in page.text("netlab-reply")[0]
        assert page.text("netlab-verdict") == [f"\u2713 {trace_verdict(trace)}"]
        assert "delivered to 10.0.0.3:80 in nl-x-s-b; the answer came back" in trace_verdict(trace)
        assert "tcp port 80" in trace_html(trace)

    def test_a_drop_is_highlighted_with_its_object_and_rule(self) -> None:
        page = Page(trace_html(dropped()))
        assert page.text("netlab-trace-failed") and not page.text("netlab-trace-ok")
        assert len(page.text("netlab-drop")) == 1 and len(page.text("netlab-hop")) == 2
        assert page.text("netlab-drop-obj") == ["nft chain forward"]
        assert page.text("netlab-drop-rule") == ['iifname "br-x" oifname "br-x" drop']
        assert "background:#fdecea" in trace_html(dropped())
        assert page.text("netlab-verdict")[0].endswith(
            "DROPPED in nl-x-h-h1 at nft chain forward: dropped by the forward chain")

    def test_a_drop_without_a_rule_has_no_rule_element(self) -> None:
        page = Page(trace_html(dropped(rule=None)))
        assert page.text("netlab-drop") and not page.text("netlab-drop-rule")

    def test_a_dropped_answer_is_shown_in_the_reply(self) -> None:
        base = delivered()
        assert base.reply is not None
        lost = Trace(base.reply.src, base.reply.dst, base.reply.probe, False, None, None, None, base.reply.hops[:1],
                     Drop("nl-x-s-b", "eth0", "no route back", None), None)
        trace = Trace(base.src, base.dst, base.probe, True, base.final_ns, base.final_ip, base.final_port,
                      base.hops, None, lost)
        page = Page(trace_html(trace))
        assert not trace.ok and page.text("netlab-trace-failed")
        assert "no route back" in page.text("netlab-reply")[0] and "no route back" not in page.text("netlab-request")[0]
        assert "the answer was DROPPED in nl-x-s-b at eth0: no route back" in trace_verdict(trace)

    def test_every_text_is_escaped(self) -> None:
        trace = Trace(EVIL, EVIL, Probe(), False, None, None, None, (hop(EVIL, EVIL, EVIL),),
                      Drop(EVIL, EVIL, EVIL, EVIL), None)
        text = trace_html(trace)
        assert "<script>" not in text
        page = Page(text)
        assert page.text("netlab-drop-rule") == [EVIL] and page.text("netlab-drop-obj") == [EVIL]
        assert EVIL in page.text("netlab-hop")[0]


def status(name: str) -> dict[str, object]:
    return {"lab": name, "backend": "simulated", "source": None,
            "hosts": [{"name": name, "namespace": f"nl-{name}", "address": "192.0.2.11", "state": "up"}],
            "networks": [{"name": name, "driver": "bridge", "internal": True, "hosts": [name], "subnet": "10.0.0.0/24",
                          "gateway": "10.0.0.1", "state": "pending"}],
            "sandboxes": [{"name": name, "host": name, "namespace": None, "ports": ["80:80/tcp"], "state": "missing"}],
            "endpoints": [{"sandbox": name, "network": name, "interface": "eth0", "ip": "10.0.0.2/24",
                           "mac": "02:42:0a:00:00:02", "aliases": [], "state": "up"}]}


class TestLab:
    def test_status_tables_escape_names_and_mark_states(self) -> None:
        text = lab_status_html(status(EVIL))
        assert "<script>" not in text
        page = Page(text)
        assert [EVIL in cell for cell in page.text("netlab-hosts")] == [True]
        assert page.text("netlab-state-up") == ["up"] and page.text("netlab-state-pending") == ["pending"]
        assert page.text("netlab-state-missing") == ["missing"]
        assert "10.0.0.2/24" in page.text("netlab-containers")[0] and "(internal)" in page.text("netlab-networks")[0]

    def test_a_deployed_lab_then_a_lab_taken_down_then_a_closed_handle(self, tmp_path: Path) -> None:
        topo, _ = load_valid(ROOT / "scenarios" / "two-bridges-isolated.yaml")
        lab = Lab.up(topo, state_dir=tmp_path)
        try:
            page = Page(lab_html(lab))
            assert "on the simulated backend" in page.text("netlab-lab")[0]
            assert [name for name in ("r1", "r2", "b1", "router") if name in page.text("netlab-containers")[0]] == [
                "r1", "r2", "b1", "router"]
            assert len(page.text("netlab-state-up")) == 1 + 2 + 4  # hosts, networks, containers
            lab.controller.down()
            assert Page(lab_html(lab)).text("netlab-lab") == ["lab two-bridges: lab 'two-bridges' is not deployed"]
        finally:
            lab.down()
        assert Page(lab_html(lab)).text("netlab-lab") == [
            "lab two-bridges: its state cannot be read here (Cannot operate on a closed database.)"]


def test_a_lab_handle_works_from_another_thread_and_a_closed_one_says_so(tmp_path: Path) -> None:
    with Lab.up(ROOT / "scenarios" / "two-bridges-isolated.yaml", state_dir=tmp_path) as lab:
        shown: list[str] = []
        worker = threading.Thread(target=lambda: shown.append(lab_html(lab)))   # Jupyter's widget callbacks
        worker.start()
        worker.join(timeout=60)
        assert len(shown) == 1 and "on the simulated backend" in shown[0]
    assert "its state cannot be read here" in lab_html(lab)


def result(labels: list[str], observed: list[list[bool]], expected: list[list[bool | None]]) -> MatrixResult:
    columns = [Column(name, "net", f"10.0.0.{i + 2}") for i, name in enumerate(labels)]
    return MatrixResult(labels, columns, expected, observed)


class TestMatrix:
    def test_cells_say_who_reaches_whom_and_mark_disagreements(self) -> None:
        found = result(["a", "b", "c"], [[True, True, False], [True, True, True], [False, False, True]],
                       [[None, True, False], [True, None, False], [False, False, None]])
        page = Page(matrix_html(found))
        assert len(page.text("netlab-reach-yes")) == 6 and len(page.text("netlab-reach-no")) == 3
        assert page.text("netlab-mismatch") == ["\u2713!"]  # b reaches c, the model says no
        assert "3 of 6 pairs reachable, 1 differ from the model" in page.text("netlab-matrix")[0]

    def test_an_unmeasured_result_shows_the_model(self) -> None:
        found = result(["a", "b"], [], [[None, True], [False, None]])
        page = Page(matrix_html(found))
        assert "not measured" in page.text("netlab-matrix")[0] and not page.text("netlab-mismatch")
        assert len(page.text("netlab-reach-yes")) == 3  # a->b, and each answers itself

    def test_labels_are_escaped(self) -> None:
        text = matrix_html(result([EVIL, "b"], [[True, False], [False, True]], [[None, False], [False, None]]))
        assert "<script>" not in text and Page(text).text("netlab-matrix")[0].count(EVIL) == 2

    @pytest.mark.parametrize("scenario", ["two-bridges-isolated", "icc-off"])
    def test_a_real_result(self, scenario: str, tmp_path: Path) -> None:
        with Lab.up(ROOT / "scenarios" / f"{scenario}.yaml", state_dir=tmp_path) as lab:
            found = lab.matrix()
        labels, observed, _ = found.by_sandbox()
        page = Page(matrix_html(found))
        assert len(page.text("netlab-reach-yes")) == sum(map(sum, observed)) > len(labels)
        assert len(page.text("netlab-reach-no")) == len(labels) ** 2 - sum(map(sum, observed)) > 0
        assert not page.text("netlab-mismatch")


def test_trace_lab_and_matrix_show_themselves_in_jupyter(tmp_path: Path) -> None:
    with Lab.up(ROOT / "scenarios" / "icc-off.yaml", state_dir=tmp_path) as lab:
        found = lab.trace("worker", "web", port="80/tcp")
        assert found._repr_html_() == trace_html(found) and "drop" in found._repr_html_()
        assert lab._repr_html_() == lab_html(lab)
        result = lab.matrix()
        assert result._repr_html_() == matrix_html(result)
