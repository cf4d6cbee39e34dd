"""netlab test / netlab trace on the simulator: tables, exit codes, pictures; bad input leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlab.cli import app

runner = CliRunner()

SCENARIO = """name: {name}
hosts: [h1, h2]
networks:
  front: {{host: h1, subnet: 10.44.1.0/24}}
  quiet: {{host: h1, subnet: 10.44.2.0/24, options: {{com.docker.network.bridge.enable_icc: "false"}}}}
  ov: {{driver: overlay, subnet: 10.44.3.0/24}}
containers:
  web: {{host: h1, networks: {{front: {{ip: 10.44.1.10, aliases: [www]}}}}, ports: ["8080:80"]}}
  app: {{host: h1, networks: [front]}}
  q1: {{host: h1, networks: [quiet]}}
  q2: {{host: h1, networks: [quiet]}}
  o1: {{host: h1, networks: [ov]}}
  o2: {{host: h2, networks: [ov]}}
expect:
  - reach: {{from: app, to: www}}
  - isolated: {{from: q1, to: q2}}
  - tcp: {{from: app, to: web, port: 80}}
  - names: {{from: app, names: [web, www]}}
  - mtu: {{from: o1, to: o2, expect: 1450}}
  - external: {{from: o2}}
  - published: {{host: h1, port: 8080, from: internet}}
  - reachability: full
{extra}"""


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETLAB_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def write(tmp_path: Path, name: str = "harness", extra: str = "") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, extra=extra))
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def deployed_labs() -> list[dict[str, str]]:
    code, out, _ = invoke("status", "--json")
    assert code == 0
    labs: list[dict[str, str]] = json.loads(out)
    return labs


def test_a_passing_scenario_prints_every_check_and_exits_0(tmp_path: Path, state: Path) -> None:
    code, out, err = invoke("test", str(write(tmp_path)), "--backend", "sim")
    assert code == 0, out + err
    for label in ("reach app -> www", "isolated q1 -> q2", "tcp app -> web:80", "names in app: web, www",
                  "mtu o1 -> o2", "external o2", "published h1:8080/tcp from internet", "reachability full"):
        assert label in out
    assert out.count("pass") == 8 and "FAIL" not in out
    assert "8 of 8 check(s) passed on the simulated backend" in err
    assert deployed_labs() == []  # torn down


def test_a_failing_check_exits_1_and_says_why(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path, extra="  - reach: {from: q1, to: q2}\n  - mtu: {from: o1, to: o2, expect: 1500}\n")
    code, out, err = invoke("test", str(path), "--backend", "sim")
    assert code == 1
    assert out.count("FAIL") == 2 and "8 of 10 check(s) passed" in err
    assert "q1 -> q2 10.44.2.3" in out      # the detail row under the failure, with the walker's reason
    assert deployed_labs() == []


def test_keep_leaves_the_lab_for_trace_and_status(tmp_path: Path, state: Path) -> None:
    code, _, err = invoke("test", str(write(tmp_path)), "--backend", "sim", "--keep")
    assert code == 0 and "lab harness left deployed" in err
    assert [lab["lab"] for lab in deployed_labs()] == ["harness"]
    code, out, _ = invoke("trace", "harness", "app", "web", "--port", "80/tcp")
    assert code == 0, out
    assert "trace app -> web 80/tcp in lab harness" in out
    code, out, _ = invoke("trace", "harness", "q1", "q2")
    assert code == 1 and 'rule: iifname "br-quiet" oifname "br-quiet" drop' in out   # ICC off, by its rule
    code, out, _ = invoke("trace", "harness", "app", "q1")
    assert code == 1 and "rule: policy drop" in out and "forward" in out            # isolation: the policy
    code, out, _ = invoke("trace", "harness", "o2", "internet")
    assert code == 0
    code, _, _ = invoke("down", "harness")
    assert code == 0 and deployed_labs() == []


def test_plot_writes_a_reachability_heatmap(tmp_path: Path, state: Path) -> None:
    picture = tmp_path / "matrix.png"
    code, _, err = invoke("test", str(write(tmp_path)), "--backend", "sim", "--plot", str(picture))
    assert code == 0, err
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trace_plot(tmp_path: Path, state: Path) -> None:
    invoke("test", str(write(tmp_path)), "--backend", "sim", "--keep")
    picture = tmp_path / "trace.svg"
    code, _, err = invoke("trace", "harness", "o1", "o2", "--plot", str(picture))
    assert code == 0, err
    assert "<svg" in picture.read_text()
    invoke("down", "harness")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["test", "{missing}", "--backend", "sim"], 2, "does not exist"),
    (["test", "{invalid}", "--backend", "sim"], 1, "unknown-sandbox"),
    (["test", "{good}", "--backend", "sim", "--plot", "{tmp}/out.txt"], 2, "use a .png, .svg or .pdf"),
    (["test", "{good}", "--backend", "wat"], 2, "unknown backend 'wat'"),
    (["trace", "nolab", "a", "b"], 3, "lab 'nolab' is not deployed"),
])
def test_bad_input_is_a_clear_error_and_deploys_nothing(tmp_path: Path, state: Path, args: list[str], code: int,
                                                         message: str) -> None:
    invalid = write(tmp_path, "broken", extra="  - reach: {from: app, to: ghost}\n")
    paths = {"missing": str(tmp_path / "missing.yaml"), "invalid": str(invalid), "good": str(write(tmp_path)),
             "tmp": str(tmp_path)}
    got, out, err = invoke(*(arg.format(**paths) for arg in args))
    assert got == code
    assert message in out + err and "Traceback" not in out + err
    assert deployed_labs() == []


@pytest.mark.parametrize(("args", "code", "message"), [
    (["ghost", "web"], 3, "no container or alias 'ghost'"),
    (["app", "nowhere"], 3, "no container or alias 'nowhere'"),
    (["app", "web", "--port", "eighty"], 2, "port 'eighty' is not PORT[/tcp|udp]"),
    (["app", "web", "--port", "80/sctp"], 2, "is not PORT[/tcp|udp]"),
    (["app", "web", "--backend", "kernel"], 2, "--backend kernel needs a lab deployed on the kernel"),
])
def test_trace_refuses_bad_names_and_ports(tmp_path: Path, state: Path, args: list[str], code: int,
                                           message: str) -> None:
    invoke("test", str(write(tmp_path)), "--backend", "sim", "--keep")
    got, out, err = invoke("trace", "harness", *args)
    assert got == code, out + err
    assert message in out + err and "Traceback" not in out + err
    assert [lab["lab"] for lab in deployed_labs()] == ["harness"]  # untouched: still the one lab
    invoke("down", "harness")


@pytest.mark.kernel
def test_on_the_kernel(tmp_path: Path, state: Path, kernel_ok: None) -> None:
    from tests.kernel_helpers import lab_namespaces, unique_lab

    name = unique_lab()
    path = write(tmp_path, name, extra="  - reach: {from: q1, to: q2}\n")
    code, out, err = invoke("test", str(path), "--backend", "kernel", "--keep")
    assert code == 1, out + err
    assert "8 of 9 check(s) passed on the kernel backend (kernel traffic)" in err
    assert "the packet walker over the lab's snapshot" in out  # real packets explained by a walk of the real state
    code, out, _ = invoke("trace", name, "app", "web", "--port", "80/tcp", "--backend", "kernel")
    assert code == 0 and "walked on kernel" in out
    code, out, _ = invoke("trace", name, "q1", "q2", "--backend", "sim")
    assert code == 1 and "walked on sim (a simulated copy of the lab)" in out and "DROPPED" in out
    code, out, _ = invoke("trace", name, "q1", "q2", "--backend", "kernel")   # the real lab's own rules
    assert code == 1 and "walked on kernel" in out and 'rule: iifname "br-quiet" oifname "br-quiet" drop' in out
    assert lab_namespaces(name)  # kept
    code, _, _ = invoke("down", name)
    assert code == 0 and lab_namespaces(name) == [] and deployed_labs() == []
    code, _, err = invoke("test", str(write(tmp_path, name)), "--backend", "kernel")
    assert code == 0, err
    assert lab_namespaces(name) == [] and deployed_labs() == []


def test_a_lab_deployed_before_is_reconciled_and_left_up(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path)
    code, _, _ = invoke("up", str(path), "--backend", "sim")
    assert code == 0
    code, _, err = invoke("test", str(path))
    assert code == 0 and "was already deployed; it stays deployed" in err
    assert [lab["lab"] for lab in deployed_labs()] == ["harness"]
    invoke("down", "harness")


def test_a_lab_on_another_backend_is_a_conflict(tmp_path: Path, state: Path) -> None:
    path = write(tmp_path)
    invoke("up", str(path), "--backend", "sim")
    code, _, err = invoke("test", str(path), "--backend", "kernel")
    assert code == 4 and "lab 'harness' is deployed on the sim backend already" in err
    assert [lab["lab"] for lab in deployed_labs()] == ["harness"]
    invoke("down", "harness")
