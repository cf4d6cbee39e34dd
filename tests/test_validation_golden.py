"""Golden tests: each tests/validation/<case>.yaml has the exact problems listed in <case>.problems.

A .problems file holds one line per expected problem: ``LINE CODE PATH``. An
empty file means the case must be valid.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netlab.validation import check_file

CASES = sorted((Path(__file__).parent / "validation").glob("*.yaml"))


def expected(case: Path) -> list[str]:
    text = case.with_suffix(".problems").read_text()
    return [line.strip() for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path) -> None:
    problems = check_file(case)
    found = [f"{p.line} {p.code} {p.path}".strip() for p in problems]
    assert found == expected(case)
    for problem in problems:
        assert problem.file == str(case)
        assert problem.message and problem.line is not None


def test_every_rule_has_a_case() -> None:
    codes = {line.split()[1] for case in CASES for line in expected(case)}
    wanted = {
        "yaml-syntax", "duplicate-name", "unknown-key", "bad-type", "unknown-host", "unknown-network",
        "unknown-driver", "subnet-overlap", "address-outside-subnet", "address-reserved", "address-taken",
        "ip-range-outside-subnet", "pool-exhausted", "no-available-pool", "network-on-other-host",
        "local-network-spans-hosts", "ifname-too-long", "mtu-out-of-range", "overlay-mtu-too-big",
        "port-conflict", "port-on-internal-network", "alias-collision", "bad-name", "unknown-option",
        "bad-option-value", "static-ip-needs-subnet", "vni-collision", "bad-underlay-address", "no-underlay-address",
        "macvlan-parent-missing", "host-missing", "single-network-driver",
        "driver-takes-no-address", "host-network-exclusive", "bad-port", "bad-check", "unknown-sandbox",
        "not-supported", "bad-mac", "mac-taken", "mtu-conflict", "bad-subnet", "bad-address",
    }
    assert wanted <= codes, f"rules without a golden case: {sorted(wanted - codes)}"


def test_isolated_overlaps_are_allowed() -> None:
    assert check_file(Path(__file__).parent / "validation" / "subnet-overlap-allowed.yaml") == []


def test_many_mistakes_are_all_listed_with_lines() -> None:
    problems = check_file(Path(__file__).parent / "validation" / "many-mistakes.yaml")
    assert len(problems) == 13
    assert len({p.line for p in problems}) >= 11
