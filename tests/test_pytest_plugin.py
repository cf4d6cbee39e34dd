"""The pytest plugin: scenario files collected as tests (one item per check), fixtures, options."""

from __future__ import annotations

import os

import pytest

from tests.kernel_helpers import lab_namespaces, unique_lab

pytest_plugins = ["pytester"]

GOOD = """name: {name}
hosts: [h1]
networks:
  front: {{subnet: 10.45.1.0/24}}
  quiet: {{subnet: 10.45.2.0/24, options: {{com.docker.network.bridge.enable_icc: "false"}}}}
containers:
  web: {{networks: {{front: {{aliases: [www]}}}}}}
  app: {{networks: [front]}}
  q1: {{networks: [quiet]}}
  q2: {{networks: [quiet]}}
expect:
  - reach: {{from: app, to: www}}
  - tcp: {{from: app, to: web, port: 80}}
  - reach: {{from: q1, to: q2}}
  - names: {{from: app, names: [web, www]}}
  - reachability: full
"""

INVALID = """name: broken
hosts: [h1]
networks: {front: {driver: brdge}}
containers: {web: {networks: [front]}}
expect:
  - reach: {from: web, to: ghost}
"""


#: the inner runs share this process, where netlab is imported already (so pytest cannot rewrite it: say nothing)
QUIET = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")


def make_scenarios(pytester: pytest.Pytester, name: str = "plugged") -> None:
    pytester.mkdir("scenarios")
    (pytester.path / "scenarios" / "good.yaml").write_text(GOOD.format(name=name))
    (pytester.path / "scenarios" / "broken.yaml").write_text(INVALID)
    pytester.mkdir("other")
    (pytester.path / "other" / "notes.yaml").write_text(INVALID)  # not under scenarios/: never collected


def test_each_check_is_an_item_and_failures_say_why(pytester: pytest.Pytester) -> None:
    make_scenarios(pytester)
    result = pytester.runpytest("-v", *QUIET)
    result.assert_outcomes(passed=4, failed=2)
    lines = [" ".join(line.split()[:2]) for line in result.stdout.lines]
    for verdict in ("scenarios/good.yaml::reach[app->www] PASSED", "scenarios/good.yaml::tcp[app->web:80] PASSED",
                    "scenarios/good.yaml::reach[q1->q2] FAILED", "scenarios/good.yaml::names[inapp:web,www] PASSED",
                    "scenarios/good.yaml::reachability[full] PASSED", "scenarios/broken.yaml::validate FAILED"):
        assert verdict in lines
    text = result.stdout.str()
    assert "reach q1 -> q2 (expect[2].reach): expected reachable, observed no answer" in text
    assert "DROPPED in nl-plugged-h-h1 at nft chain forward" in text  # the walk says why
    assert "unknown-driver" in text and "unknown-sandbox" in text
    assert "notes.yaml" not in text and "Traceback" not in text


def test_a_yaml_file_named_on_the_command_line_is_collected_when_it_has_expectations(
        pytester: pytest.Pytester) -> None:
    make_scenarios(pytester)
    result = pytester.runpytest("other/notes.yaml", *QUIET)
    result.assert_outcomes(failed=1)
    (pytester.path / "other" / "plain.yaml").write_text("just: data\n")
    result = pytester.runpytest("other/plain.yaml", *QUIET)
    result.stdout.fnmatch_lines(["collected 0 items"])  # a YAML file without an expect: section is not a test


def test_one_deploy_per_file_torn_down_after_its_last_check(pytester: pytest.Pytester) -> None:
    make_scenarios(pytester)
    pytester.makeconftest("""
import netlab.labapi

calls = []
original_up, original_close = netlab.labapi.Lab.up.__func__, netlab.labapi.Lab.close

def up(cls, *args, **kwargs):
    calls.append("up")
    return original_up(cls, *args, **kwargs)

def close(self):
    calls.append("close")
    original_close(self)

netlab.labapi.Lab.up = classmethod(up)
netlab.labapi.Lab.close = close

def pytest_sessionfinish(session):
    print("LIFECYCLE", calls)
""")
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "scenarios/good.yaml")
    result.assert_outcomes(passed=4, failed=1)
    assert "LIFECYCLE ['up', 'close']" in result.stdout.str()


def test_lab_fixture_and_backend_option(pytester: pytest.Pytester) -> None:
    make_scenarios(pytester)
    pytester.makepyfile(test_scripted="""
import pytest

def test_backend(netlab_backend):
    assert netlab_backend == "sim"

@pytest.mark.netlab_scenario("scenarios/good.yaml")
def test_lab(lab):
    assert lab.ping("app", "web") and not lab.ping("q1", "q2")
    assert lab.trace("app", "web", port="80/tcp").ok

def test_lab_needs_a_marker(lab):
    pass

@pytest.mark.netlab_scenario("scenarios/nowhere.yaml")
def test_missing_scenario(lab):
    pass
""")
    result = pytester.runpytest("test_scripted.py", *QUIET)
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*the `lab` fixture needs @pytest.mark.netlab_scenario*",
                                 "*scenario 'scenarios/nowhere.yaml' not found*"])


def test_scenarios_on_the_kernel(pytester: pytest.Pytester, kernel_ok: None) -> None:
    name = unique_lab()
    make_scenarios(pytester, name)
    state = pytester.path / "state"
    result = pytester.runpytest("scenarios/good.yaml", "--netlab-backend", "kernel", "--netlab-state-dir", str(state),
                                *QUIET)
    result.assert_outcomes(passed=4, failed=1)
    assert lab_namespaces(name) == []
    assert not os.path.exists(f"/etc/netns/nl-{name}-s-app")
