"""The exception tree and its mappings."""

from __future__ import annotations

import pytest

from netlab import errors
from netlab.errors import Problem, ValidationError


def test_every_kind_maps_to_status_and_exit_code() -> None:
    kinds = {cls.kind for cls in errors.NetlabError.__subclasses__()} | {errors.NetlabError.kind}
    assert kinds <= set(errors.HTTP_STATUS)
    assert kinds <= set(errors.EXIT_CODE)
    assert errors.HTTP_STATUS["not-found"] == 404 and errors.HTTP_STATUS["conflict"] == 409
    assert errors.EXIT_CODE["invalid"] == 1
    assert 2 not in {code for kind, code in errors.EXIT_CODE.items() if kind != "bad-request"}


def test_problem_format() -> None:
    problem = Problem("networks.a.subnet", "bad-subnet", "nope", "fix it", 7, "x.yaml")
    assert problem.format() == "x.yaml:7: bad-subnet: nope [at networks.a.subnet] (hint: fix it)"
    assert Problem("", "c", "m").format() == "<model>: c: m"
    assert problem.to_dict()["line"] == 7


def test_validation_error_summarises() -> None:
    error = ValidationError([Problem("a", "c1", "m1"), Problem("b", "c2", "m2")])
    assert "2 problem(s)" in str(error) and "and 1 more" in str(error)
    with pytest.raises(errors.NetlabError):
        raise error


def test_backend_error_keeps_errno() -> None:
    assert errors.BackendError("File exists", 17).errno == 17
