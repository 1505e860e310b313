"""Strict conversion of a params mapping into frozen dataclasses.

``from_mapping(cls, data, key)`` builds ``cls`` from a plain dict, recursing into nested
dataclasses, tuples and ``dict[str, Dataclass]`` mappings. It rejects unknown keys, missing
keys, wrong types and out-of-range values with a one-line :class:`ConfigError` that names the
full dotted key. Every float must be finite (NaN and infinities are refused whatever the field's range). Range
limits live in field metadata (see :func:`bounded`); cross-field rules
live in each dataclass's ``__post_init__`` and raise ``ConfigError("<field>: <message>")``, which
gets the dotted prefix added here.

Examples::

    @dataclass(frozen=True)
    class Fusion:
        method: Literal["concat", "mean", "weighted"] = "weighted"
        grid_step: float = bounded(0.1, gt=0.0, le=0.5)

    fusion = from_mapping(Fusion, {"method": "mean"}, key="fusion")
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal, Union

from soccerreid.errors import ConfigError

OPERATIONAL = "operational"  # field metadata key set by ``bounded(..., operational=True)``
NEUTRAL_DEFAULT = "neutral_default"  # field metadata key set by ``bounded(..., neutral_default=True)``


def bounded(
    default: Any = dataclasses.MISSING,
    *,
    ge=None,
    gt=None,
    le=None,
    lt=None,
    key=None,
    operational: bool = False,
    neutral_default: bool = False,
) -> Any:
    """A field whose number (or every item of a tuple) must lie in range; ``key`` renames it in params.

    ``operational`` marks a setting that changes how a stage runs but never what it writes (e.g.
    DataLoader workers): fingerprints leave it out (:func:`soccerreid.fingerprint.shaping_values`),
    so changing it neither retrains, re-extracts nor loses an interrupted run's checkpoint.
    ``neutral_default`` marks a setting added after outputs were stamped whose default is what those
    outputs were made with: fingerprints leave it out while it holds its default, so adding it rebuilds
    nothing, and setting it does.
    """
    metadata: dict[str, Any] = {"limits": {"ge": ge, "gt": gt, "le": le, "lt": lt}}
    if key is not None:
        metadata["key"] = key
    if operational:
        metadata[OPERATIONAL] = True
    if neutral_default:
        metadata[NEUTRAL_DEFAULT] = True
    return dataclasses.field(default=default, metadata=metadata)


def from_mapping(cls: type, data: Any, key: str) -> Any:
    """Build dataclass ``cls`` from mapping ``data``; ``key`` is its dotted name for messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{key}: expected a mapping, got {_describe(data)}")
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{_join(key, unknown[0])}: unknown key (expected one of: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{_join(key, name)}: missing required key")
            continue
        value = _convert(hints[field.name], data[name], _join(key, name))
        _check_limits(field.metadata.get("limits"), value, _join(key, name))
        values[field.name] = value
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{key}.{err}" if key else str(err)) from None


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, key)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {list(args)}, got {value!r}")
        return value
    if origin in (Union, types.UnionType):
        return _convert_union(args, value, key)
    if origin is tuple:
        return _convert_tuple(args, value, key)
    if origin is dict:
        return _convert_dict(args, value, key)
    return _convert_scalar(hint, value, key)


def _convert_union(args: tuple, value: Any, key: str) -> Any:
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in (a for a in args if a is not type(None)):
        try:
            return _convert(arg, value, key)
        except ConfigError as err:
            errors.append(str(err).split(": ", 1)[-1])
    raise ConfigError(f"{key}: {' or '.join(errors)}")


def _convert_tuple(args: tuple, value: Any, key: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{key}: expected a list, got {_describe(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(f"{key}: expected a list of {len(args)} items, got {len(value)}")
    return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))


def _convert_dict(args: tuple, value: Any, key: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
    return {str(k): _convert(args[1], v, _join(key, str(k))) for k, v in value.items()}


def _convert_scalar(hint: Any, value: Any, key: str) -> Any:
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {_describe(value)}")
    if not isinstance(value, hint):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {_describe(value)}")
    if hint is float and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    return value


def _check_limits(limits: dict | None, value: Any, key: str) -> None:
    if not limits or value is None:
        return
    items = value if isinstance(value, tuple) else (value,)
    for item in items:
        _check_one(limits, item, key)


def _check_one(limits: dict, item: Any, key: str) -> None:
    rules = [
        ("ge", lambda x, b: x >= b, ">="),
        ("gt", lambda x, b: x > b, ">"),
        ("le", lambda x, b: x <= b, "<="),
        ("lt", lambda x, b: x < b, "<"),
    ]
    for name, ok, symbol in rules:
        bound = limits.get(name)
        if bound is not None and not ok(item, bound):
            raise ConfigError(f"{key}: expected a value {symbol} {bound}, got {item!r}")
