"""Hostile values in every field of a model file, found by walking the file a real save wrote.

A field added to the model file later is probed without anyone writing a test for it: every
section replaced by a non-mapping, every field by values of the wrong type or out of range, and
the file must be refused by :func:`read_model_file` (what :func:`load_network` reads first) with
one line naming the file (and the field, when its type is wrong), before any network is built.
"""

from __future__ import annotations

import math

import pytest
import torch

from soccerreid.config.models import ModelConfig
from soccerreid.errors import WeightsError
from soccerreid.models import create_model, load_network, read_model_file, save_model, weights_sha256

CHECKED = ("format_version", "model", "input", "output")  # the fields load_network relies on
LORA = {"r": 4, "alpha": 8.0, "dropout": 0.0, "targets": ["qkv"]}


HOSTILE = ["x", "", 1.5, -1, 0, True, None, float("nan"), float("inf"), [], [0.5] * 400, {"a": 1}]


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> dict:
    """The payload of a real (tiny) model file; its ``model.lora`` is None (dinov2_lora's is probed apart)."""
    torch.manual_seed(0)
    cfg = ModelConfig(arch="osnet_ain", variant="x0_25")
    path = tmp_path_factory.mktemp("probe") / "model.pt"
    save_model(create_model(cfg, num_classes=0).eval(), path, cfg, input_size=(64, 32))
    payload = torch.load(path, weights_only=True)
    state = {"w": torch.zeros(1)}  # the fields are probed, not the weights: a tiny state keeps 300 writes fast
    return {**payload, "state_dict": state, "weights_sha256": weights_sha256(state)}


def _fields(payload: dict) -> list[tuple[str, ...]]:
    """Every checked field's path, sections and their leaves (``("input", "mean")``, ...)."""
    paths = []
    for name in CHECKED:
        paths.append((name,))
        if isinstance(payload[name], dict):
            paths += [(name, key) for key in payload[name]]
    paths += [("model", "lora", key) for key in LORA]
    return paths


def _write(payload: dict, path_in: tuple[str, ...], value, file) -> None:
    changed = {k: (dict(v) if isinstance(v, dict) else v) for k, v in payload.items()}
    if len(path_in) == 3:  # a LoRA field: probed inside the section of an otherwise valid LoRA model
        changed["model"].update(arch="dinov2_lora", variant="small", lora=dict(LORA))
        changed["input"] = {**changed["input"], "height": 56, "width": 28}
    node = changed
    for part in path_in[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[path_in[-1]] = value
    torch.save(changed, file)


def _wrong_type(value, original) -> bool:
    """True when ``value`` can never stand where ``original`` stood (bool and int told apart)."""
    if isinstance(original, float):  # an int stands for a float, as in params
        return not isinstance(value, (int, float)) or isinstance(value, bool)
    if isinstance(original, int) and not isinstance(original, bool):
        return not isinstance(value, int) or isinstance(value, bool)
    return not isinstance(value, type(original))


def test_every_field_of_the_file_is_probed(payload):
    fields = {".".join(path) for path in _fields(payload)}
    assert {"model.arch", "model.lora.r", "input.mean", "input.std", "output.flip", "format_version"} <= fields


def test_every_hostile_field_is_refused_in_one_line_or_read_as_it_is(payload, tmp_path):
    """A value of the wrong type is refused naming the file and the field; one of the right type
    is refused naming the file (out of range, unknown arch, ...) or read as the file gave it."""
    file = tmp_path / "model.pt"
    for field in _fields(payload):
        original = LORA[field[2]] if len(field) == 3 else payload
        for part in field if original is payload else ():
            original = original[part]
        for value in HOSTILE:
            _write(payload, field, value, file)
            try:
                read_model_file(file)
            except WeightsError as err:
                message = str(err)
                assert "\n" not in message and message.startswith(f"{file}: "), f"{field}={value!r}: {message}"
                if _wrong_type(value, original):
                    assert f"'{'.'.join(field)}'" in message or "model.lora." in message, (
                        f"{field}={value!r}: {message}"
                    )
            else:
                assert not _wrong_type(value, original), f"{field}={value!r} was read"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (("model",), ["osnet_ain"], "model file key 'model' is missing or not a mapping (got list)"),
        (
            ("input", "mean"),
            ["a", "b", "c"],
            "model file key 'input.mean' must be 3 numbers in [0, 1], got ['a', 'b', 'c']",
        ),
        (("input", "mean"), [0.5, 0.4], "model file key 'input.mean' must be 3 numbers in [0, 1], got [0.5, 0.4]"),
        (
            ("input", "std"),
            [0.2, 0.0, 0.2],
            "model file key 'input.std' must be 3 numbers in (0, 1], got [0.2, 0.0, 0.2]",
        ),
        (("format_version",), "2", "model file key 'format_version' is not an integer: '2'"),
        (("input", "height"), -5, "model file key 'input.height' must be >= 1, got -5"),
    ],
)
def test_the_issues_cases(payload, tmp_path, field, value, expected):
    file = tmp_path / "model.pt"
    _write(payload, field, value, file)
    with pytest.raises(WeightsError) as info:
        load_network(file)
    assert str(info.value) == f"{file}: {expected}"


def test_a_refused_pickle_says_what_it_refused_in_one_whole_sentence(tmp_path, recwarn):
    class Payload:
        def __reduce__(self):
            return (math.factorial, (3,))

    file = tmp_path / "evil.pt"
    torch.save({"format": "soccerreid-model", "x": Payload()}, file)
    with pytest.raises(WeightsError) as info:
        load_network(file)
    assert str(info.value) == (
        f"{file}: cannot read model file, damaged or not a torch file (UnpicklingError: Unsupported global: "
        "GLOBAL math.factorial was not an allowed global by default.)"
    )
    assert not [w for w in recwarn if "torch" in str(w.filename)]
