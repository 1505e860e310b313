"""The prepare stage end to end, image validation, ground-truth copy and its one-line errors."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from helpers import TINY, load_stage, tiny_data_section
from SoccerNet.Evaluation.ReIdentification import evaluate

from soccerreid.config.data import DataConfig
from soccerreid.data.index import read_index
from soccerreid.data.prepare import Source, build_index, format_summary, generate_source
from soccerreid.data.soccernet import find_labels
from soccerreid.errors import DataError
from soccerreid.stage import run_stage

REPO = Path(__file__).resolve().parents[2]


def _params(tmp_path: Path, data: dict) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"] = data
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


TINY_DATA = tiny_data_section(replace(TINY, seed=1))


def test_stage_end_to_end_on_tiny_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = _params(tmp_path, TINY_DATA)
    load_stage("prepare")(["--params", str(params), "--raw", "data/raw", "--index", "data/index"])
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "split",
        "images",
        "query",
        "gallery",
        "actions",
        "identities",
        "none_ids",
        "invalid",
    ]
    index = Path("data/index")
    assert sorted(p.name for p in index.iterdir()) == [
        "challenge.csv",
        "challenge_groundtruth.json",
        "invalid_images.json",
        "summary.json",
        "test.csv",
        "train.csv",
        "valid.csv",
    ]
    summary = json.loads((index / "summary.json").read_text())
    for split in ("train", "valid", "test", "challenge"):
        frame = read_index(index, split)
        assert all(Path(p).is_file() and p.startswith("data/raw/reid/") for p in frame["path"])
        assert summary[split]["images"] == len(frame) and summary[split]["actions"] == frame["action_idx"].nunique()
        assert f"{split:<10}{len(frame):>9}" in out
    assert summary["train"]["identities"] == read_index(index, "train")["label"].nunique()
    assert summary["challenge"]["identities"] is None
    for split in ("train", "valid", "test"):
        assert summary[split]["none_ids"] == (read_index(index, split)["jersey"] == "None").sum() > 0
    assert summary["challenge"]["none_ids"] == 0
    assert json.loads((index / "invalid_images.json").read_text()) == {"count": 0, "images": []}
    _assert_perfect_score(index / "challenge_groundtruth.json", tmp_path)


def _assert_perfect_score(truth_path: Path, tmp_path: Path) -> None:
    truth = json.loads(truth_path.read_text())
    ranking = {
        key: sorted(
            (g["bbox_idx"] for g in truth["gallery"].values() if g["action_idx"] == q["action_idx"]),
            key=lambda b: truth["gallery"][str(b)]["person_uid"] != q["person_uid"],
        )
        for key, q in truth["query"].items()
    }
    (tmp_path / "ranking.json").write_text(json.dumps(ranking))
    assert evaluate(str(truth_path), str(tmp_path / "ranking.json")) == {
        "mAP": pytest.approx(1.0),
        "rank-1": pytest.approx(1.0),
    }


def test_broken_images_are_excluded_counted_and_listed(raw_copy, tmp_path):
    train = sorted((raw_copy / "reid" / "train").rglob("*.png"))
    empty, truncated, garbage = (
        train[0],
        train[1],
        sorted((raw_copy / "reid" / "challenge" / "gallery").glob("*.png"))[0],
    )
    empty.write_bytes(b"")
    truncated.write_bytes(truncated.read_bytes()[:60])
    garbage.write_bytes(b"not a png at all")
    summary = build_index(Source(raw_copy / "reid", find_labels([raw_copy / "reid"]), False), tmp_path / "index")
    report = json.loads((tmp_path / "index" / "invalid_images.json").read_text())
    assert report["count"] == 3
    assert {(i["split"], Path(i["path"]).name, i["reason"]) for i in report["images"]} == {
        ("train", empty.name, "image file is empty (0 bytes)"),
        ("train", truncated.name, "cannot decode image (truncated or not an image file)"),
        ("challenge", garbage.name, "cannot decode image (truncated or not an image file)"),
    }
    assert summary["train"]["invalid"] == 2 and summary["challenge"]["invalid"] == 1
    kept = read_index(tmp_path / "index", "train")["path"].map(lambda p: Path(p).name)
    assert empty.name not in set(kept) and truncated.name not in set(kept)
    truth = json.loads((tmp_path / "index" / "challenge_groundtruth.json").read_text())
    garbage_idx = garbage.name.split("-")[0]
    assert garbage_idx not in truth["gallery"] and garbage_idx in truth["query"]  # same bbox_idx, other list
    _assert_perfect_score(tmp_path / "index" / "challenge_groundtruth.json", tmp_path)


def test_bad_split_fails_before_decoding_and_keeps_the_old_index(raw_copy, tmp_path):
    index = tmp_path / "index"
    build_index(Source(raw_copy / "reid", {}, False), index)
    before = {p.name: p.read_bytes() for p in index.iterdir()}
    shutil.rmtree(raw_copy / "reid" / "test" / "query")
    with pytest.raises(DataError, match=rf"^{raw_copy / 'reid' / 'test' / 'query'}: folder not found"):
        build_index(Source(raw_copy / "reid", {}, False), index)
    assert {p.name: p.read_bytes() for p in index.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "raw"]  # no temp folder left


def test_stage_user_error_is_one_line_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = _params(tmp_path, {"source": "soccernet", "soccernet_dir": str(tmp_path / "SoccerNet")})
    stage = load_stage("prepare")
    with pytest.raises(SystemExit) as exit_info:
        run_stage(lambda: stage(["--params", str(params), "--raw", "data/raw", "--index", "data/index"]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        f"error: {tmp_path / 'SoccerNet' / 'reid'}: SoccerNet split(s) train, valid, test, challenge not found"
    )
    assert not (tmp_path / "data").exists()


def test_stage_rejects_bad_params_before_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = {**TINY_DATA, "synthetic": {**TINY_DATA["synthetic"], "people_per_action": [5, 40]}}
    params = _params(tmp_path, bad)
    stage = load_stage("prepare")
    with pytest.raises(SystemExit):
        run_stage(lambda: stage(["--params", str(params), "--raw", "data/raw", "--index", "data/index"]))
    assert (
        capsys.readouterr().err
        == f"error: {params}: data.synthetic.people_per_action: expected a value <= 26, got 40\n"
    )


def test_soccernet_source_with_local_copy(tiny_raw, tmp_path):
    local = tmp_path / "SoccerNet"
    shutil.copytree(tiny_raw / "reid", local / "reid")
    source = generate_source(DataConfig(source="soccernet", soccernet_dir=str(local)), tmp_path / "raw")
    assert (
        source.reid_dir == local / "reid" and source.labels["challenge"] == local / "reid" / "challenge_bbox_info.json"
    )
    pointer = json.loads((tmp_path / "raw" / "SOURCE.json").read_text())
    assert pointer["reid_dir"] == str((local / "reid").resolve())
    summary = build_index(source, tmp_path / "index")
    assert any("SoccerNet publishes 45,993" in note for note in summary["valid"]["notes"])
    printed = format_summary(summary).splitlines()
    assert any(line.startswith("note: valid: ") and "SoccerNet publishes 45,993" in line for line in printed)
    assert (tmp_path / "index" / "challenge_groundtruth.json").is_file()
    valid = read_index(tmp_path / "index", "valid")
    assert valid["path"].map(lambda p: Path(p).is_absolute()).all()  # outside DVC: temp workspaces find it
