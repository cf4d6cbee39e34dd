"""pytest plugin (entry point ``netlab`` in ``pytest11``): scenario files as tests, and lab fixtures.

``pytest scenarios/`` collects every ``*.yaml`` / ``*.yml`` file under a
directory named ``scenarios`` (and any YAML file named on the command line that
has an ``expect:`` section); each check of its ``expect:`` section is one test
item, e.g. ``scenarios/x.yaml::reach[app->web]``. The lab is deployed once per
file, before its first item, and taken down after its last one, failures
included. A file that does not validate is one failing item listing every
problem. Options:

* ``--netlab-backend sim|kernel`` (default ``sim``): where labs are deployed;
* ``--netlab-state-dir DIR``: the state store (default: a private temporary one
  for ``sim``; ``$NETLAB_STATE_DIR`` or ``~/.local/state/netlab`` for ``kernel``,
  so ``netlab down`` can clean up after a killed run);
* ``--netlab-keep``: leave the labs deployed (a lab that was deployed before the
  run is reconciled with the file and always left deployed, as ``netlab test`` does).

Fixtures: ``netlab_backend`` (the backend's name) and ``lab``: a deployed
:class:`netlab.Lab` of the scenario named by the test's marker, taken down after
the test::

    @pytest.mark.netlab_scenario("scenarios/two-host-overlay.yaml")  # relative to the test file, or rootdir
    def test_overlay(lab):
        assert lab.ping("c1", "c2")
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["CheckItem", "ProblemsItem", "ScenarioFile"]

MARKER = "netlab_scenario"
SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netlab", "netlab scenario tests")
    group.addoption("--netlab-backend", choices=("sim", "kernel"), default="sim",
                    help="Deploy scenario labs on the simulator (default) or the kernel (root).")
    group.addoption("--netlab-state-dir", default=None,
                    help="State store for the labs (default: private for sim, the usual one for kernel).")
    group.addoption("--netlab-keep", action="store_true", default=False,
                    help="Leave the scenario labs deployed after the tests.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(path): the scenario file the `lab` fixture deploys")


def _named_on_command_line(config: pytest.Config, path: Path) -> bool:
    for arg in config.args:
        given = Path(str(arg).split("::")[0])
        if not given.is_absolute():
            given = Path(config.invocation_params.dir) / given
        if given.resolve() == path.resolve():
            return True
    return False


def _has_expect(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("expect:") for line in text.splitlines())


def _in_scenarios_dir(config: pytest.Config, path: Path) -> bool:
    """Whether a directory between the rootdir (or the filesystem root) and ``path`` is named ``scenarios``."""
    try:
        parts = path.parent.relative_to(config.rootpath).parts
    except ValueError:
        parts = path.parent.parts
    return "scenarios" in parts


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix not in SUFFIXES:
        return None
    if _in_scenarios_dir(parent.config, file_path) or (
            _named_on_command_line(parent.config, file_path) and _has_expect(file_path)):
        collected: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return collected
    return None


_PRIVATE_STATE = pytest.StashKey[str]()


def _state_dir(config: pytest.Config) -> str | None:
    given = config.getoption("--netlab-state-dir")
    if given:
        return str(given)
    if config.getoption("--netlab-backend") != "sim":
        return None
    if _PRIVATE_STATE not in config.stash:
        config.stash[_PRIVATE_STATE] = tempfile.mkdtemp(prefix="netlab-pytest-")
    return config.stash[_PRIVATE_STATE]


def pytest_unconfigure(config: pytest.Config) -> None:
    private = config.stash.get(_PRIVATE_STATE, None)
    if private is not None:
        shutil.rmtree(private, ignore_errors=True)


class ScenarioFile(pytest.File):
    """A scenario file: one item per check, one deploy shared by them."""

    lab: Any = None
    checks: list[Any] = []
    valid = False

    def collect(self) -> Iterator[pytest.Item]:
        from netlab.checks import describe
        from netlab.loading import load_file
        from netlab.validation import check_file

        problems = check_file(self.path)
        self.valid = not problems
        if problems:
            yield ProblemsItem.from_parent(self, name="validate", problems=[p.format() for p in problems])
            return
        seen: dict[str, int] = {}
        self.checks = list(load_file(self.path).expect)
        for index, check in enumerate(self.checks):
            label = describe(check)
            kind, _, rest = label.partition(" ")
            name = f"{kind}[{rest.replace(' ', '')}]" if rest else kind
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}#{seen[name]}"
            yield CheckItem.from_parent(self, name=name, index=index)

    def setup(self) -> None:
        from netlab.labapi import Lab

        if not self.valid:
            return  # its one item reports the problems; nothing to deploy
        config = self.config
        self.lab = Lab.up(self.path, backend=config.getoption("--netlab-backend"),
                          keep=config.getoption("--netlab-keep"), state_dir=_state_dir(config))
        self.lab.keep |= self.lab.was_deployed  # somebody's lab of that name: reconciled, and left up

    def teardown(self) -> None:
        if self.lab is not None:
            lab, self.lab = self.lab, None
            lab.close()


class CheckFailed(Exception):
    """A scenario check whose observation differs from its expectation."""


class CheckItem(pytest.Item):
    """One check of a scenario's ``expect:`` section, run against the file's deployed lab."""

    def __init__(self, *, index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index

    def runtest(self) -> None:
        from netlab.scenario import run_check

        scenario = self.parent
        assert isinstance(scenario, ScenarioFile) and scenario.lab is not None
        lab = scenario.lab
        check = scenario.checks[self.index]
        result = run_check(lab.view, lab.prober, check)
        self.user_properties.append(("observed", result.observed))
        if not result.passed:
            detail = f"\n{result.detail}" if result.detail else ""
            raise CheckFailed(f"{result.label} ({check.path}): expected {result.expected}, observed "
                              f"{result.observed}{detail}")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class ProblemsItem(pytest.Item):
    """A scenario file that does not validate: fails with every problem, no traceback."""

    def __init__(self, *, problems: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        raise CheckFailed(f"{len(self.problems)} problem(s):\n" + "\n".join(self.problems))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.name}: invalid scenario"


@pytest.fixture(scope="session")
def netlab_backend(pytestconfig: pytest.Config) -> str:
    """The backend scenario labs are deployed on: ``sim`` or ``kernel`` (``--netlab-backend``)."""
    return str(pytestconfig.getoption("--netlab-backend"))


@pytest.fixture
def lab(request: pytest.FixtureRequest, netlab_backend: str) -> Iterator[Any]:
    """A deployed :class:`netlab.Lab` of the test's ``@pytest.mark.netlab_scenario(path)``; down afterwards."""
    from netlab.labapi import Lab

    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(f"the `lab` fixture needs @pytest.mark.{MARKER}('path/to/scenario.yaml')")
    given = Path(str(marker.args[0]))
    candidates = [given] if given.is_absolute() else [Path(request.path).parent / given,
                                                      Path(request.config.rootpath) / given]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        raise pytest.UsageError(f"{MARKER}: scenario {str(given)!r} not found (looked at: "
                                f"{', '.join(str(p) for p in candidates)})")
    with Lab.up(path, backend=netlab_backend, keep=request.config.getoption("--netlab-keep"),
                state_dir=_state_dir(request.config)) as deployed:
        deployed.keep |= deployed.was_deployed
        yield deployed
