"""Hostile values for every flag of every ``soccerreid`` verb, found by walking the command's parser.

Each flag gets values it must refuse; the command must exit with status 2 and one line on stderr
that names the flag or the value, in under a second, before a model loads or a crop is read
(the model file given is a file that does not exist: reaching it would be a different error). The
time is measured in this process, where the heavy modules are already imported: it bounds the
checks' own work; that they come before loading anything is what the absent model file shows.
A flag added later without a probe here fails :func:`test_every_flag_has_a_probe`.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import soccerreid.api  # noqa: F401 - imported here, so that the timing below measures the checks, not imports
import soccerreid.export  # noqa: F401
from soccerreid.command import build_parser, main

ABSENT = "absent-model.pt"  # never reached: every probe must fail before the model file is read


def _verbs() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _base(verb: str, tmp: Path) -> list[str]:
    """A command line of ``verb`` that parses; the probed flag is appended (the last one wins)."""
    return {
        "embed": ["embed", ABSENT, str(tmp), "--out", str(tmp / "q.h5")],
        "rank": ["rank", "--query", str(tmp / "q.h5"), "--gallery", str(tmp / "g.h5")],
        "evaluate": ["evaluate", ABSENT],
        "export": ["export", ABSENT, "--format", "onnx", "--out", str(tmp / "m.onnx")],
        "explore": ["explore", "--root", str(tmp)],
        "import": ["import", str(tmp / "absent.pth.tar"), "--arch", "osnet_ain", "--variant", "x0_25"]
        + ["--height", "64", "--width", "32", "--out", str(tmp / "imported.pt")],
    }[verb]


def _busy_port() -> socket.socket:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    return busy


def _probes(tmp: Path, busy_port: int) -> dict[str, list[list[str]]]:
    """flag -> argument lists it must refuse (each appended to the verb's base line)."""
    model_file = tmp / "victim.pt"
    integers = [["x"], [""], ["nan"], ["1.5"], ["-1"]]
    return {
        "--out": [[str(tmp)], [str(model_file)], [str(tmp / "notes.txt" / "q.h5")], ["/proc/x/q.h5"]],
        "--force": [],  # a switch: nothing to refuse
        "--role": [["train"], ["x"]],
        "--query": [[str(tmp / "absent.h5")]],
        "--gallery": [[str(tmp / "absent.h5")]],
        "--model": [[str(tmp / "absent.pt")]],
        "--top-k": integers,
        "--rerank": [
            ["0", "6", "0.3"],
            ["20", "6", "1.5"],
            ["nan", "6", "0.3"],
            ["20", "x", "0.3"],
            ["20.5", "6", "0.3"],
        ],
        "--metric": [["l1"]],
        "--ignore-actions": [],
        "--split": [["train"], ["challenge"]],
        "--index": [[str(tmp / "no-index")]],
        "--official-actions": [["0"], *integers],
        "--json": [[str(tmp)], [str(model_file)], ["/proc/x.json"]],
        "--format": [["tflite"]],
        "--tracker": [],
        "--supersample": [["0"], ["9"], *integers],
        "--resize": [["cv2"], ["PIL"], [""]],
        "--arch": [["no_such_arch"]],
        "--variant": [["x9_9"]],
        "--check": [[str(tmp / "absent.png")]],
        "--root": [[str(tmp / "no-run")], [str(tmp / "notes.txt")]],
        "--host": [["no-such-host.invalid"], ["192.0.2.1"]],
        "--port": [["0"], ["99999"], ["x"], [str(busy_port)]],
        "--height": [["0"], *integers],
        "--width": [["0"], *integers],
        "--flip": [],
        "--no-flip": [],
        "--normalize": [],
        "--no-normalize": [],
        "--batch-size": [["0"], *integers],
        "--workers": integers,
        "--device": [["bogus"], ["cuda:x"], ["gpu"], *([["cuda"]] if not torch.cuda.is_available() else [])],
    }


def _flags() -> list[tuple[str, str]]:
    return [
        (verb, flag)
        for verb, parser in _verbs().items()
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]


def test_every_flag_has_a_probe(tmp_path):
    with _busy_port() as busy:
        probes = _probes(tmp_path, busy.getsockname()[1])
    missing = sorted({flag for _, flag in _flags()} - set(probes))
    assert not missing, f"flags without hostile values in this test: {missing}"


@pytest.fixture()
def scene(tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    torch.save({"w": torch.zeros(1)}, tmp_path / "victim.pt")
    with _busy_port() as busy:
        yield tmp_path, _probes(tmp_path, busy.getsockname()[1])


@pytest.mark.parametrize(("verb", "flag"), _flags(), ids=lambda x: x)
def test_every_flag_refuses_hostile_values_in_one_line_before_any_work(verb, flag, scene, capsys):
    tmp, probes = scene
    for values in probes[flag]:
        argv = [*_base(verb, tmp), flag, *values]
        start = time.perf_counter()
        try:
            status = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            status = exit_.code
        elapsed = time.perf_counter() - start
        err = capsys.readouterr().err.strip()
        assert status == 2, f"{argv}: exit {status}, stderr {err!r}"
        assert err.startswith("error: ") and "\n" not in err, f"{argv}: {err!r}"
        assert "Traceback" not in err and ABSENT not in err, f"{argv}: reached the model file: {err!r}"
        assert elapsed < 1.0, f"{argv}: {elapsed:.2f} s"
        assert (tmp / "q.h5").exists() is False and not (tmp / "m.onnx").exists(), "a probe left an output"


def test_export_supersamples_only_the_tracker_graph(scene, capsys):
    tmp, _ = scene
    assert main([*_base("export", tmp), "--supersample", "2"]) == 2
    assert capsys.readouterr().err == "error: --supersample 2: only the tracker graph supersamples (add --tracker)\n"
    assert not (tmp / "m.onnx").exists()


def test_the_model_file_under_out_is_untouched(scene):
    tmp, _ = scene
    before = (tmp / "victim.pt").read_bytes()
    assert main(["embed", ABSENT, str(tmp), "--out", str(tmp / "victim.pt")]) == 2
    assert (tmp / "victim.pt").read_bytes() == before


@pytest.mark.parametrize("shape", [(0, 8), (4, 0)])
def test_features_with_no_rows_or_no_width_are_refused_naming_the_file(tmp_path, capsys, shape):
    from soccerreid.schema import FeatureSet, write_features

    n = shape[0]
    path = tmp_path / "empty.h5"
    write_features(
        path,
        FeatureSet(
            features=np.zeros(shape, np.float32),
            bbox_idx=np.arange(n),
            action_idx=np.zeros(n, np.int64),
            role=np.array(["query"] * n, dtype=str),
            person_uid=None,
            clazz=np.full(n, ""),
            model="m",
            split="",
            normalized=False,
        ),
    )
    assert main(["rank", "--query", str(path), "--gallery", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}: no features to rank (shape {shape}; expected N >= 1 rows of D >= 1)\n"
    )


def test_the_operating_systems_refusals_are_one_line_naming_the_path(tmp_path, capsys):
    from soccerreid.errors import exit_status

    def write_into_a_file():
        (tmp_path / "file").write_text("x")
        (tmp_path / "file" / "out.json").write_text("{}")

    assert exit_status(write_into_a_file) == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'file' / 'out.json'}: a part of the path is a file, not a folder\n"
    )


def test_a_bug_keeps_its_traceback():
    from soccerreid.errors import exit_status

    with pytest.raises(ZeroDivisionError):
        exit_status(lambda: 1 / 0)
    with pytest.raises(OSError):  # an OS error with no path of the user's is a bug too
        exit_status(lambda: (_ for _ in ()).throw(OSError(5, "Input/output error")))
