"""The soccerreid command, run as a subprocess: every verb, its --help, and every bad input."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import soccerreid
from soccerreid.command import _embedder, build_parser, main
from soccerreid.data.index import read_index
from soccerreid.evaluation.ranking import official_scores
from soccerreid.schema import read_features

ROOT = Path(__file__).resolve().parents[1]
VERBS = ("embed", "rank", "evaluate", "export")


def soccerreid_cmd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONWARNINGS="ignore", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "soccerreid", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _bad(done: subprocess.CompletedProcess) -> str:
    """The one line of a bad-input failure (exit status 2, nothing on stdout)."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def valid_dir(soccernet_valid) -> Path:
    return soccernet_valid.parent / "raw" / "reid" / "valid"


@pytest.fixture(scope="module")
def embedded(model_files, valid_dir, tmp_path_factory) -> Path:
    """valid embedded by ``soccerreid embed`` from its SoccerNet folder (query/ and gallery/)."""
    out = tmp_path_factory.mktemp("embed") / "valid.h5"
    _ok(soccerreid_cmd("embed", model_files["osnet_ain"], valid_dir, "--out", out))
    return out


def test_the_console_script_is_declared_and_resolves():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"soccerreid": "soccerreid.command:main"}
    module, func = scripts["soccerreid"].split(":")
    assert callable(getattr(__import__(module, fromlist=[func]), func))


def test_the_installed_console_script_runs():
    """After ``pip install -e .`` (as CI does) the ``soccerreid`` executable is the command."""
    points = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "soccerreid"]
    script = shutil.which("soccerreid", path=str(Path(sys.executable).parent))
    if not points or script is None:
        pytest.skip("soccerreid is not installed in this environment (pip install -e .)")
    assert points[0].value == "soccerreid.command:main"
    done = subprocess.run([script, "export", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "--format {onnx,torchscript}" in done.stdout


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb):
    out = _ok(soccerreid_cmd(verb, "--help"))
    assert out.startswith(f"usage: soccerreid {verb}")
    assert "--device" in out and "--height" in out


def test_explore_has_help_and_a_missing_root_is_one_line(tmp_path):
    out = _ok(soccerreid_cmd("explore", "--help"))
    assert out.startswith("usage: soccerreid explore") and "--port" in out and "--root" in out
    missing = tmp_path / "nope"
    assert (
        _bad(soccerreid_cmd("explore", "--root", missing))
        == f"error: {missing}: no such folder (--root is the run's repository root)"
    )


def test_no_verb_or_a_missing_argument_is_one_line():
    assert _bad(soccerreid_cmd()) == (
        "error: soccerreid: the following arguments are required: "
        "{embed,rank,evaluate,export,import,explore} (see --help)"
    )
    assert _bad(soccerreid_cmd("export", "m.pt")) == (
        "error: soccerreid export: the following arguments are required: --format (see --help)"
    )


def test_embed_writes_the_features_schema_from_a_soccernet_folder(embedded, model_files, soccernet_valid):
    fs = read_features(embedded)
    frame = read_index(soccernet_valid, "valid")
    model = soccerreid.load_model(model_files["osnet_ain"])
    assert fs.embedder == model.info.weights_id and fs.normalized and fs.features.shape == (len(frame), 512)
    by_key = {(r, b): i for i, (r, b) in enumerate(zip(fs.role.tolist(), fs.bbox_idx.tolist()))}
    rows = [by_key[r, b] for r, b in zip(frame["role"], frame["bbox_idx"])]  # query and gallery keyed apart
    assert np.array_equal(fs.action_idx[rows], frame["action_idx"]) and np.array_equal(
        fs.person_uid[rows], frame["person_uid"]
    )
    assert [Path(p).name for p in fs.path[rows]] == [Path(p).name for p in frame["path"]]
    np.testing.assert_allclose(fs.features[rows], model.embed(frame["path"].tolist()), atol=1e-6)


def test_embed_of_other_names_numbers_the_rows(model_files, soccernet_valid, tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, path in enumerate(read_index(soccernet_valid, "valid")["path"].tolist()[:3]):
        shutil.copy(path, folder / f"player{i}.png")
    out = _ok(soccerreid_cmd("embed", model_files["osnet_ain"], folder, "--out", tmp_path / "f.h5", "--no-flip"))
    assert (
        out.strip()
        == f"{tmp_path / 'f.h5'}: 3 x 512 features ({soccerreid.load_model(model_files['osnet_ain']).info.weights_id})"
    )
    fs = read_features(tmp_path / "f.h5")
    assert fs.bbox_idx.tolist() == [0, 1, 2] and fs.action_idx.tolist() == [0, 0, 0] and not fs.labelled
    assert fs.role.tolist() == ["gallery"] * 3 and [Path(p).name for p in fs.path] == [
        "player0.png",
        "player1.png",
        "player2.png",
    ]
    model = soccerreid.load_model(model_files["osnet_ain"]).configure(flip=False)
    np.testing.assert_allclose(fs.features, model.embed(sorted(folder.iterdir())), atol=1e-6)


def test_rank_writes_the_official_ranking_of_a_features_file(embedded, valid_dir, tmp_path):
    out = _ok(
        soccerreid_cmd(
            "rank",
            "--query",
            embedded,
            "--gallery",
            embedded,
            "--top-k",
            "0",
            "--rerank",
            "20",
            "6",
            "0.3",
            "--out",
            tmp_path / "r.json",
        )
    )
    fs = read_features(embedded)
    assert len(out.splitlines()) == int(fs.is_query.sum())
    ranking = json.loads((tmp_path / "r.json").read_text())
    official = official_scores(json.loads((valid_dir / "valid_bbox_info.json").read_text()), ranking)  # accepts it
    query, gallery = fs.take(fs.is_query), fs.take(~fs.is_query)
    result = soccerreid.rank(
        query.features,
        gallery.features,
        query_actions=query.action_idx,
        gallery_actions=gallery.action_idx,
        rerank=(20, 6, 0.3),
    )
    expected = {
        str(q): gallery.bbox_idx[row[row >= 0]].tolist() for q, row in zip(query.bbox_idx.tolist(), result.indices)
    }
    assert ranking == expected
    assert 0 < official["mAP"] <= 1


def test_rank_embeds_image_folders_like_features_files(embedded, model_files, valid_dir):
    from_file = _parse(_ok(soccerreid_cmd("rank", "--query", embedded, "--gallery", embedded, "--top-k", "3")))
    from_images = _parse(
        _ok(
            soccerreid_cmd(
                "rank",
                "--query",
                valid_dir / "query",
                "--gallery",
                valid_dir / "gallery",
                "--model",
                model_files["osnet_ain"],
                "--top-k",
                "3",
            )
        )
    )
    assert all(name.endswith(".png") for name in from_images) and {len(v) for v in from_images.values()} == {3}
    assert from_images.keys() == from_file.keys()  # the file keeps each row's image path
    for query, ranked in from_file.items():
        assert [g for g, _ in ranked] == [g for g, _ in from_images[query]]
        np.testing.assert_allclose([d for _, d in ranked], [d for _, d in from_images[query]], atol=2e-4)


def _parse(text: str) -> dict[str, list[tuple[str, float]]]:
    """``{query: [(gallery, distance), ...]}`` of rank's printout ``query: g1 (d1) g2 (d2) ...``."""
    out = {}
    for line in text.splitlines():
        query, rest = line.split(": ", 1)
        out[query] = [(g, float(d)) for g, d in re.findall(r"(\S+) \(([-\d.e]+)\)", rest)]
    return out


def test_evaluate_prints_the_score_checked_by_the_official_scorer(model_files, soccernet_valid, tmp_path):
    out = _ok(
        soccerreid_cmd(
            "evaluate",
            model_files["osnet_ain"],
            "--split",
            "valid",
            "--index",
            soccernet_valid,
            "--json",
            tmp_path / "s.json",
            "--device",
            "cpu",
        )
    )
    expected = soccerreid.evaluate(model_files["osnet_ain"], soccernet_valid, "valid", device="cpu")
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["mAP"] == expected["mAP"] and saved["official"]["agrees"]
    assert f"mAP {expected['mAP']:.6f}, Rank-1 {expected['rank1']:.4f}" in out
    assert f"official scorer: mAP {expected['official']['mAP']:.6f}" in out and out.strip().endswith("(agrees)")


def test_export_writes_a_checked_onnx_file(model_files, tmp_path):
    import onnxruntime as ort

    out = _ok(soccerreid_cmd("export", model_files["osnet_ain"], "--format", "onnx", "--out", tmp_path / "m.onnx"))
    assert out.startswith(f"{tmp_path / 'm.onnx'}: onnx, max abs diff to torch ") and out.strip().endswith(
        "on 8 random crops"
    )
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert session.run(None, {"images": np.zeros((3, 3, 64, 32), np.float32)})[0].shape == (3, 512)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def _bad_in_process(capsys, *args) -> str:
    """The one stderr line of ``main(args)`` (the command's own code, in this process), status 2."""
    assert main([str(a) for a in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err.strip()


def test_bad_inputs_are_one_line_errors_with_status_2(capsys, model_files, embedded, valid_dir, tmp_path):
    osnet, dino = model_files["osnet_ain"], model_files["dinov2_lora"]
    crop = next(valid_dir.rglob("*.png"))
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    (tmp_path / "empty").mkdir()
    cases = [
        (
            ("embed", osnet, tmp_path / "absent.png", "--out", tmp_path / "o.h5"),
            f"error: {tmp_path / 'absent.png'}: no such file or folder",
        ),
        (
            ("embed", osnet, tmp_path / "notes.txt", "--out", tmp_path / "o.h5"),
            f"error: {tmp_path / 'notes.txt'}: not an image file (expected .png, .jpg, .jpeg, .bmp, .webp)",
        ),
        (
            ("embed", osnet, tmp_path / "broken.png", "--out", tmp_path / "o.h5"),
            f"error: {tmp_path / 'broken.png'}: cannot decode image (truncated or not an image file)",
        ),
        (
            ("embed", osnet, tmp_path / "empty", "--out", tmp_path / "o.h5"),
            f"error: {tmp_path / 'empty'}: no image files in this folder (expected .png, .jpg, .jpeg, .bmp, .webp)",
        ),
        (
            ("embed", dino, crop, "--out", tmp_path / "o.h5", "--height", "50"),
            f"error: {dino}: height x width: dinov2_lora needs height and width that are multiples of "
            "its patch size 14, "
            "got 50x28 (nearest: 56x28)",
        ),
        (
            ("embed", osnet, crop, "--out", tmp_path / "o.h5", "--width", "8"),
            f"error: {osnet}: width: expected a value >= 16, got 8",
        ),
        (
            ("rank", "--query", embedded, "--gallery", valid_dir / "gallery", "--model", dino),
            f"error: {embedded}: features from another model ({read_features(embedded).embedder}, 512-d); "
            f"{dino} is {soccerreid.load_model(dino).info.weights_id} (384-d)",
        ),
        (
            ("rank", "--query", valid_dir / "query", "--gallery", embedded),
            f"error: {valid_dir / 'query'}: images need --model to be embedded (or pass a features file .h5)",
        ),
        (
            ("evaluate", osnet, "--index", tmp_path),
            f"error: {tmp_path / 'valid.csv'}: index file not found (run the prepare stage first)",
        ),
        (
            ("export", tmp_path / "notes.txt", "--format", "onnx"),
            f"error: {tmp_path / 'notes.txt'}: cannot read model file, damaged or not a torch file (",
        ),
    ]
    for args, message in cases:
        line = _bad_in_process(capsys, *args)
        assert line.startswith(message) if message.endswith("(") else line == message, (args, line)
    assert not (tmp_path / "o.h5").exists()


def test_a_bad_input_exits_2_from_the_real_process(tmp_path, valid_dir):
    crop = next(valid_dir.rglob("*.png"))
    line = _bad(soccerreid_cmd("embed", tmp_path / "absent.pt", crop, "--out", tmp_path / "o.h5"))
    assert (
        line == f"error: {tmp_path / 'absent.pt'}: model file not found "
        "(the train stage writes artifacts/models/<name>/model.pt)"
    )


def test_rank_refuses_features_of_two_models(model_files, valid_dir, embedded, tmp_path):
    _ok(soccerreid_cmd("embed", model_files["dinov2_lora"], valid_dir / "gallery", "--out", tmp_path / "g.h5"))
    other = read_features(tmp_path / "g.h5")
    line = _bad(soccerreid_cmd("rank", "--query", embedded, "--gallery", tmp_path / "g.h5"))
    assert line == (
        f"error: {tmp_path / 'g.h5'}: features from another model ({other.embedder}, 384-d) than "
        f"{embedded} ({read_features(embedded).embedder}, 512-d)"
    )


def test_the_embedding_flags_reach_the_embedder(model_files):
    model = str(model_files["osnet_ain"])
    flags = ["--resize", "tracker", "--supersample", "3", "--workers", "2"]
    for verb in (["evaluate", model], ["embed", model, "x.png", "--out", "x.h5"]):
        config = _embedder(model, build_parser().parse_args([*verb, *flags])).config
        assert (config.resize, config.supersample, config.workers) == ("tracker", 3, 2)
        default = _embedder(model, build_parser().parse_args(verb)).config
        assert (default.resize, default.supersample) == ("pil", 1), "the model file's recipe by default"
