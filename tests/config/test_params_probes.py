"""Hostile values for every key of the params schema, found by walking the dataclasses.

A key added to a config dataclass later is probed without anyone writing a test for it: each
leaf gets values that are wrong for its type (another type, NaN, infinities, None where it is
not optional, a list where a scalar belongs) and must be refused with one line that names the
key; hypothesis then throws arbitrary values at every leaf, and the only acceptable outcomes are
a validated ``Params`` or that one-line error.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soccerreid.config import Params, load_params, parse_params
from soccerreid.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = yaml.safe_load((ROOT / "params.yaml").read_text())
# the dict sections' entries probed: one of each kind that params.yaml holds
DICT_KEYS = {"models": "osnet_ain", "extract": "osnet_ain"}


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One scalar, tuple or literal key of params: its dotted path and type hint."""

    path: tuple[str, ...]
    hint: Any

    @property
    def key(self) -> str:
        """As messages write it: ``models.osnet_ain.train.phases[0].epochs``."""
        return ".".join(str(part) for part in self.path).replace(".0.", "[0].")


def _leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[Leaf]:
    """Every leaf key of dataclass ``cls`` (nested dataclasses and probed dict entries expanded)."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        name = field.metadata.get("key", field.name)
        hint = hints[field.name]
        path = (*prefix, name)
        if dataclasses.is_dataclass(hint):
            found += _leaves(hint, path)
        elif typing.get_origin(hint) is dict:
            if name in DICT_KEYS:
                found += _leaves(typing.get_args(hint)[1], (*path, DICT_KEYS[name]))
        elif typing.get_origin(hint) is tuple and dataclasses.is_dataclass(typing.get_args(hint)[0]):
            found += _leaves(typing.get_args(hint)[0], (*path, 0))
        else:
            found.append(Leaf(path, hint))
    return found


LEAVES = _leaves(Params)


def _with(leaf: Leaf, value: Any) -> dict:
    """The default params with ``leaf`` set to ``value`` (tuples of dataclasses: in their first item)."""
    data = copy.deepcopy(DEFAULT)
    node = data
    for part in leaf.path[:-1]:
        if isinstance(part, int):
            node = node[part]
            continue
        node = node.setdefault(part, {})
    node[leaf.path[-1]] = value
    return data


def _kinds(hint: Any) -> set[type]:
    """The Python types a value of ``hint`` may have (Literal: the types of its values)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        return set().union(*(_kinds(arg) for arg in typing.get_args(hint)))
    if origin is Literal:
        return {type(v) for v in typing.get_args(hint)}
    if origin is tuple:
        return {tuple}
    return {hint}


def _wrong_values(hint: Any) -> list[Any]:
    """Values that no key of type ``hint`` may accept."""
    kinds = _kinds(hint)
    values: list[Any] = [{"a": 1}]
    if kinds & {int, float}:
        values += ["7", True, float("nan"), float("inf"), -float("inf")]
        if float not in kinds:
            values.append(1.5)
    if kinds & {str}:
        values += [7, ["x"]]
    if bool in kinds:
        values += ["yes", 2]
    if tuple in kinds:
        values += ["x", 7, [float("nan")], [{"a": 1}]]
    if type(None) not in kinds:
        values.append(None)
    if typing.get_origin(hint) is Literal:
        values.append("no-such-choice")
    return values


def test_the_walk_reaches_every_section():
    sections = {leaf.path[0] for leaf in LEAVES}
    assert sections >= {"launcher", "data", "models", "extract", "distances", "fusion", "qe", "rerank", "score"}
    keys = {leaf.key for leaf in LEAVES}
    assert {"models.osnet_ain.train.lr", "models.osnet_ain.mean", "qe.alpha", "report.seed"} <= keys
    assert "models.osnet_ain.train.phases[0].epochs" in keys


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: leaf.key)
def test_every_key_refuses_wrong_values_in_one_line_naming_it(leaf):
    for value in _wrong_values(leaf.hint):
        start = time.perf_counter()
        with pytest.raises(ConfigError) as info:
            parse_params(_with(leaf, value))
        message = str(info.value)
        assert time.perf_counter() - start < 1.0
        assert "\n" not in message, message
        assert message.startswith(f"params.yaml: {leaf.key}"), f"{value!r}: {message}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("models.osnet_ain.train.lr", float("inf")),
        ("models.osnet_ain.mean", [float("nan"), 0.4, 0.4]),
        ("models.osnet_ain.mean", [0.5, 0.4]),
        ("models.osnet_ain.mean", ["a", "b", "c"]),
        ("models.osnet_ain.std", [0.2, 0.0, 0.2]),
        ("models.osnet_ain.std", [0.2, 5.0, 0.2]),
        ("qe.alpha", float("inf")),
        ("fusion.weights", [float("inf"), 0.2, 0.6]),
        ("report.seed", -1),
        ("models.osnet_ain.train.seed", -1),
        ("data.synthetic.seed", -1),
    ],
)
def test_the_issues_cases_are_one_line_errors(key, value):
    leaf = next(leaf for leaf in LEAVES if leaf.key == key)
    with pytest.raises(ConfigError) as info:
        parse_params(_with(leaf, value))
    assert str(info.value).startswith(f"params.yaml: {key}")


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.lists(st.one_of(st.floats(), st.integers(), st.text(max_size=5)), max_size=12),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(leaf=st.sampled_from(LEAVES), value=HOSTILE)
def test_any_value_is_validated_or_refused_naming_the_key(leaf, value):
    try:
        params = parse_params(_with(leaf, value))
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message and message.startswith("params.yaml: "), message
        return
    assert isinstance(params, Params)
    _assert_finite(params)


def _assert_finite(node: Any) -> None:
    """No float anywhere in validated params is NaN or infinite."""
    if dataclasses.is_dataclass(node):
        for field in dataclasses.fields(node):
            _assert_finite(getattr(node, field.name))
    elif isinstance(node, dict):
        for value in node.values():
            _assert_finite(value)
    elif isinstance(node, tuple):
        for value in node:
            _assert_finite(value)
    elif isinstance(node, float):
        assert math.isfinite(node)


def test_a_params_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(b"data:\n  download: \xff\xfe\n")
    with pytest.raises(ConfigError) as info:
        load_params(path)
    assert str(info.value) == f"{path}: not UTF-8 text (byte 18: invalid start byte)"
