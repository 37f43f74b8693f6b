"""Filter-policy matching (pure logic, no server)."""

from __future__ import annotations

import pytest

from cumulo.services.notify.filters import matches, validate


@pytest.mark.parametrize("policy,attrs,expected", [
    ({"a": ["x"]}, {"a": "x"}, True),
    ({"a": ["x"]}, {"a": "y"}, False),
    ({"a": ["x"]}, {}, False),
    ({"a": ["x"], "b": [1]}, {"a": "x", "b": 1.0}, True),
    ({"a": ["x"], "b": [1]}, {"a": "x", "b": 2}, False),
    ({"a": [True]}, {"a": True}, True),
    ({"a": [True]}, {"a": 1}, False),
    ({"a": [{"prefix": "eu-"}]}, {"a": "eu-west"}, True),
    ({"a": [{"suffix": ".jpg"}]}, {"a": "cat.png"}, False),
    ({"a": [{"anything-but": ["x", "y"]}]}, {"a": "z"}, True),
    ({"a": [{"anything-but": "x"}]}, {"a": "x"}, False),
    ({"a": [{"anything-but": {"prefix": "tmp"}}]}, {"a": "tmp1"}, False),
    ({"a": [{"anything-but": ["x"]}]}, {}, False),
    ({"p": [{"numeric": [">", 0, "<=", 10]}]}, {"p": 10}, True),
    ({"p": [{"numeric": [">", 0, "<=", 10]}]}, {"p": "3.5"}, True),
    ({"p": [{"numeric": [">", 0, "<=", 10]}]}, {"p": 0}, False),
    ({"p": [{"numeric": ["=", 5]}]}, {"p": "five"}, False),
    ({"a": [{"exists": False}]}, {}, True),
    ({"a": [{"exists": True}]}, {}, False),
    ({"a": ["x", {"prefix": "y"}]}, {"a": "yes"}, True),
])
def test_matches(policy: dict, attrs: dict, expected: bool) -> None:
    assert matches(validate(policy), attrs) is expected


@pytest.mark.parametrize("policy", [{}, [], {"a": []}, {"a": [{"prefix": 1}]}, {"a": [{"numeric": [">"]}]},
                                    {"a": [{"x": 1, "y": 2}]}, {"a": [[1]]}, {str(i): ["v"] for i in range(6)}])
def test_invalid_policies(policy: object) -> None:
    with pytest.raises(ValueError):
        validate(policy)
