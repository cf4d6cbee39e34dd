"""netlab up / status / exec / down, on the simulated backend (and one run on the kernel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlab.cli import app
from tests.kernel_helpers import lab_namespaces, unique_lab

ROOT = Path(__file__).parent.parent
SCENARIO = str(ROOT / "scenarios" / "single-host-bridge.yaml")
runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NETLAB_STATE_DIR", str(tmp_path))
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_up_status_exec_down_on_the_simulator(state: Path) -> None:
    code, _, err = invoke("up", SCENARIO, "--backend", "sim")
    assert code == 0, err
    assert "lab single-bridge is up on the simulated backend: 14 created" in err
    code, out, _ = invoke("status", "--json")
    assert json.loads(out) == [{"lab": "single-bridge", "backend": "simulated", "source": SCENARIO}]
    code, out, _ = invoke("status", "single-bridge", "--json")
    data = json.loads(out)
    assert {s["name"]: s["state"] for s in data["sandboxes"]} == {"web": "up", "app": "up", "db": "up"}
    web = next(e for e in data["endpoints"] if e["sandbox"] == "web")
    assert (web["ip"], web["interface"], web["aliases"]) == ("10.10.1.10/24", "eth0", ["www"])
    code, out, _ = invoke("status", "single-bridge")
    assert code == 0 and "10.10.1.10/24" in out and "sandboxes of lab single-bridge" in out
    code, out, _ = invoke("exec", "single-bridge", "web", "--", "ip", "-br", "addr")
    assert code == 0 and "10.10.1.10/24" in out
    code, _, err = invoke("exec", "single-bridge", "web", "--", "ping", "-c1", "10.10.1.2")
    assert code == 6 and "--backend kernel" in err
    code, _, err = invoke("exec", "single-bridge", "ghost", "--", "true")
    assert code == 3 and "ghost" in err
    code, _, err = invoke("up", SCENARIO)  # the lab remembers its backend: reconcile, nothing to do
    assert code == 0 and "0 created, 0 updated, 0 removed, 14 untouched" in err
    code, _, err = invoke("down", "single-bridge")
    assert code == 0 and "6 namespace(s) removed" in err
    code, _, err = invoke("down", "single-bridge")
    assert code == 0 and "nothing to do" in err
    code, out, _ = invoke("status")
    assert "no labs are deployed" in out


def test_up_of_an_invalid_file_lists_problems_and_deploys_nothing(state: Path) -> None:
    code, _, err = invoke("up", str(ROOT / "tests" / "validation" / "many-mistakes.yaml"), "--backend", "sim")
    assert code == 1 and "address-outside-subnet" in err
    assert invoke("status", "--json")[1].strip() == "[]"


def test_unknown_lab_and_backend(state: Path) -> None:
    code, _, err = invoke("status", "nope")
    assert code == 3 and "not deployed" in err
    code, _, err = invoke("up", SCENARIO, "--backend", "docker")
    assert code == 2 and "unknown backend" in err


@pytest.mark.kernel
@pytest.mark.usefixtures("kernel_ok")
def test_up_exec_down_on_the_kernel(state: Path, tmp_path: Path) -> None:
    lab = unique_lab()
    scenario = tmp_path / "lab.yaml"
    scenario.write_text(Path(SCENARIO).read_text().replace("name: single-bridge", f"name: {lab}"))
    try:
        code, _, err = invoke("up", str(scenario), "--backend", "kernel")
        assert code == 0, err
        code, out, err = invoke("exec", lab, "app", "--", "ping", "-c1", "-W1", "10.10.1.10")
        assert code == 0, out + err
        code, _, _ = invoke("exec", lab, "app", "--", "ping", "-c1", "-W1", "10.10.1.250")
        assert code == 1
    finally:
        invoke("down", lab)
    assert lab_namespaces(lab) == []
