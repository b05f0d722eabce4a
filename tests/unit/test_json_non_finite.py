"""``json_input.non_finite_numbers``: the floats JSON cannot carry (msgspec writes them as null)."""

from __future__ import annotations

import math

import pytest

from execsvc.json_input import NON_FINITE_REASON, non_finite_errors, non_finite_numbers, put_at


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"fair": [1.0, math.nan]}, [(("fair", 1), "nan")]),
        ({"a": {"b": {"c": math.inf}}}, [(("a", "b", "c"), "inf")]),
        ({"edges": [[0.5, -math.inf]]}, [(("edges", 0, 1), "-inf")]),
        ({"pair": (math.nan, 2)}, [(("pair", 0), "nan")]),
        ({1: math.inf}, [(("1",), "inf")]),
        ({"x": math.nan, "y": [math.inf]}, [(("x",), "nan"), (("y", 0), "inf")]),
    ],
    ids=["nan-in-list", "inf-nested-dicts", "minus-inf-nested-lists", "tuple", "int-key-as-json", "several"],
)
def test_every_non_finite_float_is_found_with_its_keys(value: object, found: list[tuple[tuple, str]]) -> None:
    assert [(keys, repr(number)) for keys, number in non_finite_numbers(value)] == found


@pytest.mark.parametrize(
    "value",
    [{}, {"a": 1.5, "b": [0.0, -2.25, 1e308], "c": {"d": "nan", "e": True, "f": None, "g": 10**30}}],
    ids=["empty", "finite-and-not-floats"],
)
def test_finite_numbers_and_other_values_pass(value: object) -> None:
    assert non_finite_numbers(value) == []


def test_the_error_names_the_path_under_the_field_and_the_value() -> None:
    [error] = non_finite_errors("metadata", {"fair": [1.0, math.nan]})

    assert str(error) == "metadata.fair[1]=nan: JSON has no NaN or infinity; send it as a string"
    assert error.reason == NON_FINITE_REASON
    assert error.to_dict() == {"field": "metadata.fair[1]", "value": "nan", "reason": NON_FINITE_REASON}


def test_put_at_sets_an_existing_path_and_refuses_a_missing_one() -> None:
    root = {"metadata": {"fair": [1.0, None]}}

    assert put_at(root, ("metadata", "fair", 1), math.inf)
    assert not put_at(root, ("metadata", "fair", 5), 1.0)
    assert not put_at(root, ("metadata", "absent", "x"), 1.0)
    assert not put_at(root, (), 1.0)
    assert root == {"metadata": {"fair": [1.0, math.inf]}}
