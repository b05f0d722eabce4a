"""Hypothesis: the order form body is byte for byte what ``urllib.parse.urlencode`` gives."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st

from execsvc.executors.kite.mapping import form_body

SAFE = st.text(alphabet="abcXYZ019_.-~", max_size=12)
ANY = st.text(max_size=12)
FORMS = st.dictionaries(st.one_of(SAFE, ANY), st.one_of(SAFE, ANY), max_size=8)


@given(FORMS)
def test_form_body_is_urlencode(form: dict[str, str]) -> None:
    assert form_body(form) == urlencode(form).encode("ascii")


@given(FORMS)
def test_form_body_parses_back(form: dict[str, str]) -> None:
    pairs = parse_qsl(form_body(form).decode("ascii"), keep_blank_values=True)
    assert pairs == [(k, v) for k, v in form.items()]
