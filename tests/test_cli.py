"""The netlab command: exit codes, compiler-style lines, JSON, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netlab.cli import app

ROOT = Path(__file__).parent.parent
SCENARIOS = sorted(str(p) for p in (ROOT / "scenarios").glob("*.yaml"))
BROKEN = str(ROOT / "tests" / "validation" / "many-mistakes.yaml")
runner = CliRunner()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from netlab.cli import main; main()", *args],
                          capture_output=True, text=True, check=False)


class TestValidate:
    def test_scenarios_are_clean(self) -> None:
        result = runner.invoke(app, ["validate", *SCENARIOS])
        assert result.exit_code == 0, result.output
        assert "all valid" in result.output

    def test_broken_file_lists_every_problem(self) -> None:
        result = runner.invoke(app, ["validate", BROKEN])
        assert result.exit_code == 1
        lines = [line for line in result.stdout.splitlines() if line.startswith(BROKEN)]
        assert len(lines) == 13
        assert lines[0].startswith(f"{BROKEN}:5: address-outside-subnet: ")
        assert "(hint: " in lines[0]

    def test_json(self) -> None:
        result = runner.invoke(app, ["validate", "--json", BROKEN, SCENARIOS[0]])
        assert result.exit_code == 1
        payload = json.loads(result.stdout)
        assert [entry["valid"] for entry in payload] == [False, True]
        first = payload[0]["problems"][0]
        assert set(first) == {"file", "line", "path", "code", "message", "hint"}

    def test_usage_errors_exit_2(self, tmp_path: Path) -> None:
        assert runner.invoke(app, ["validate"]).exit_code == 2
        assert runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")]).exit_code == 2
        assert runner.invoke(app, ["validate", "--bogus", SCENARIOS[0]]).exit_code == 2


class TestPlan:
    def test_table(self) -> None:
        result = runner.invoke(app, ["plan", str(ROOT / "scenarios" / "two-host-overlay.yaml")])
        assert result.exit_code == 0, result.output
        for text in ("10.0.9.2/24", "02:42:0a:00:09:02", "vx-000100", "nl-two-host-overlay-h-h1", "CreateVxlan"):
            assert text in result.stdout

    def test_json(self) -> None:
        result = runner.invoke(app, ["plan", "--json", str(ROOT / "scenarios" / "single-host-bridge.yaml")])
        payload = json.loads(result.stdout)
        assert payload["addressing"]["endpoints"]
        kinds = {obj["kind"] for obj in payload["objects"]}
        assert {"CreateNamespace", "CreateBridge", "CreateVeth", "AddRoute", "ApplyRuleset"} <= kinds

    def test_invalid_file_is_refused_without_traceback(self) -> None:
        proc = run("plan", BROKEN)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert "address-outside-subnet" in proc.stderr


class TestDraw:
    @pytest.mark.parametrize("ext", ["png", "svg"])
    def test_writes_picture(self, tmp_path: Path, ext: str) -> None:
        out = tmp_path / f"t.{ext}"
        result = runner.invoke(app, ["draw", str(ROOT / "scenarios" / "three-host-mix.yaml"), "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000

    def test_bad_extension_is_a_clear_error(self, tmp_path: Path) -> None:
        proc = run("draw", SCENARIOS[0], "-o", str(tmp_path / "x.gif"))
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr and ".png" in proc.stderr


class TestEntryPoint:
    def test_help_lists_subcommands(self) -> None:
        proc = run("--help")
        assert proc.returncode == 0
        for command in ("validate", "draw", "plan"):
            assert command in proc.stdout

    def test_debug_shows_traceback(self) -> None:
        proc = run("--debug", "plan", BROKEN)
        assert proc.returncode != 0 and "Traceback" in proc.stderr

    def test_yaml_syntax_error(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.yaml"
        bad.write_text("hosts: [h1\n")
        proc = run("validate", str(bad))
        assert proc.returncode == 1
        assert f"{bad}:" in proc.stdout and "yaml-syntax" in proc.stdout
        assert "Traceback" not in proc.stderr
