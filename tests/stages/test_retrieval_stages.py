"""The distances, fuse, rerank and score stages end to end on tiny synthetic features."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers import load_stage
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.config import RERANK_PRESETS
from soccerreid.errors import DataError
from soccerreid.evaluation import score_blocks
from soccerreid.evaluation.ranking import ground_truth_from_blocks, official_scores
from soccerreid.retrieval import features_to_blocks, rerank_blocks
from soccerreid.schema import FeatureSet, read_blocks, write_features

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"resnet50_ibn": (32, 5.0), "dinov2_lora": (24, 4.5), "osnet_ain": (16, 3.5)}
SPLIT_SIZES = {"valid": (20, 120, 360), "test": (15, 90, 280), "challenge": (12, 70, 220)}


def unlabelled(fs):
    return FeatureSet(
        fs.features,
        fs.bbox_idx,
        fs.action_idx,
        fs.role,
        None,
        np.full(len(fs.role), ""),
        fs.model,
        fs.split,
        fs.normalized,
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("dag")
    for seed, (split, sizes) in enumerate(SPLIT_SIZES.items()):
        labels = synthetic_split(*sizes, seed=seed)
        for m, (model, (dim, noise)) in enumerate(MODELS.items()):
            fs = synthetic_feature_set(labels, dim, noise, seed=10 * seed + m, model=model, name=split)
            if split == "challenge":
                truth = ground_truth_from_blocks(features_to_blocks(fs))
                truth["query"].pop(next(iter(truth["query"])))  # as prepare drops queries without positive
                fs = unlabelled(fs)
            write_features(root / "features" / model / f"{split}.h5", fs)
    (root / "challenge_groundtruth.json").write_text(json.dumps(truth))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["fusion"]["grid_step"] = 0.25
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def run_dag(root, params="params.yaml", name="main"):
    """Every retrieval stage on the shared features; outputs under ``root / name``; returns the scores."""
    p, out = str(root / params), root / name
    for model in MODELS:
        load_stage("distances")(
            ["--params", p, "--features", str(root / "features" / model), "--out", str(out / "distances" / model)]
        )
    load_stage("fuse")(
        [
            "--params",
            p,
            "--distances",
            str(out / "distances"),
            "--features",
            str(root / "features"),
            "--out",
            str(out / "fused"),
        ]
    )
    load_stage("rerank")(["--params", p, "--fused", str(out / "fused"), "--out", str(out / "reranked")])
    load_stage("score")(
        [
            "--params",
            p,
            "--distances",
            str(out / "distances"),
            "--fused",
            str(out / "fused"),
            "--reranked",
            str(out / "reranked"),
            "--challenge-groundtruth",
            str(root / "challenge_groundtruth.json"),
            "--scores",
            str(out / "scores.json"),
            "--cmc",
            str(out / "cmc.csv"),
            "--rankings",
            str(out / "rankings"),
        ]
    )
    return json.loads((out / "scores.json").read_text())


@pytest.fixture(scope="module")
def main_run(workspace):
    """The default params' run: (scores, output folder)."""
    return run_dag(workspace), workspace / "main"


def test_dag_writes_scores_rankings_and_cmc(main_run):
    scores, out = main_run
    assert scores["split"] == "valid" and scores["method"] == "rerank:20/6/0.3"
    for key in ("mAP", "rank1", "rank5", "rank10", "rank20"):
        assert 0.0 <= scores[key] <= 1.0
    assert scores["official"]["agrees"] is True
    assert set(scores["models"]) == set(MODELS)
    assert set(scores["fusion"]) == {"concat", "mean", "weighted", "grid"}
    assert set(scores["rerank"]) == {"standard", "aggressive", "broad", "lambda_0.5"}
    assert scores["rerank"]["standard"]["mAP"] == scores["mAP"]  # final = weighted fusion + standard preset
    assert set(scores["classes"]) <= {"players", "goalkeepers", "referees_staff"}
    heldout = scores["heldout"]
    assert heldout["split"] == "test" and heldout["num_queries"] == SPLIT_SIZES["test"][1]
    assert heldout["mAP"] == score_blocks(read_blocks(out / "reranked" / "test.h5"))["mAP"]
    assert set(heldout["fusion"]) == set(scores["fusion"]) and set(heldout["rerank"]) == set(scores["rerank"])
    challenge = scores["challenge"]
    assert challenge["official"]["mAP"] == pytest.approx(challenge["mAP"], abs=1e-12)
    assert challenge["queries_without_positive"] == 1
    assert set(challenge["models"]) == set(MODELS) and set(challenge["rerank"]) == set(scores["rerank"])
    assert challenge["rerank"]["standard"]["mAP"] == challenge["mAP"]  # every row, the final one among them
    for split in SPLIT_SIZES:
        ranking = json.loads((out / "rankings" / f"{split}.json").read_text())
        assert len(ranking) == SPLIT_SIZES[split][1]
    cmc = np.genfromtxt(out / "cmc.csv", delimiter=",", names=True)
    assert len(cmc) == 50 and cmc["final"][0] == pytest.approx(scores["rank1"], abs=1e-6)
    assert np.all(np.diff(cmc["final"]) >= 0)
    grid = (out / "fused" / "grid.csv").read_text().splitlines()
    assert grid[0] == "resnet50_ibn,dinov2_lora,osnet_ain,mAP,rank1" and len(grid) == 16


def test_rerank_stage_writes_every_preset_of_every_split(main_run):
    scores, out = main_run
    presets = out / "reranked" / "presets"
    assert sorted(p.relative_to(presets).as_posix() for p in presets.rglob("*.h5")) == sorted(
        f"{name}/{split}.h5" for name in RERANK_PRESETS for split in ("valid", "test", "challenge")
    )
    fused = read_blocks(out / "fused" / "valid.h5")
    for name, (k1, k2, lam) in RERANK_PRESETS.items():
        preset = read_blocks(presets / name / "valid.h5")
        assert np.array_equal(preset.values, rerank_blocks(fused, k1, k2, lam).values), name
        assert scores["rerank"][name]["mAP"] == score_blocks(preset)["mAP"]
    assert np.array_equal(
        read_blocks(presets / "standard" / "valid.h5").values, read_blocks(out / "reranked" / "valid.h5").values
    )


def test_official_scorer_accepts_the_exported_valid_ranking(main_run):
    scores, out = main_run
    final = read_blocks(out / "reranked" / "valid.h5")
    official = official_scores(ground_truth_from_blocks(final), out / "rankings" / "valid.json")
    assert official["mAP"] == scores["mAP"]


def test_rerank_disabled_keeps_the_fused_distances(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["rerank"]["enabled"] = False
    params["fusion"]["method"] = "grid"
    (workspace / "off.yaml").write_text(yaml.safe_dump(params))
    scores = run_dag(workspace, "off.yaml", name="plain")
    assert scores["method"] == "fusion:grid"
    assert scores["mAP"] == scores["fusion"]["grid"]["mAP"]


def test_missing_inputs_are_one_line_errors(workspace, tmp_path):
    p = str(workspace / "params.yaml")
    with pytest.raises(DataError, match=f"{tmp_path}: no features file for any of valid, test, challenge"):
        load_stage("distances")(["--params", p, "--features", str(tmp_path), "--out", str(tmp_path / "o")])
    (tmp_path / "osnet_ain").mkdir()
    (tmp_path / "osnet_ain" / "valid.h5").write_bytes(b"")
    with pytest.raises(DataError, match="resnet50_ibn/valid.h5: missing, while other models have valid"):
        load_stage("fuse")(
            ["--params", p, "--distances", str(tmp_path), "--features", str(tmp_path), "--out", str(tmp_path / "f")]
        )
    with pytest.raises(DataError, match=f"{tmp_path}: no fused distances"):
        load_stage("rerank")(["--params", p, "--fused", str(tmp_path), "--out", str(tmp_path / "r")])


def test_score_report_and_fuse_name_the_missing_upstream_output(workspace, main_run, tmp_path):
    p, out = str(workspace / "params.yaml"), main_run[1]
    score_args = [
        "--params",
        p,
        "--distances",
        str(out / "distances"),
        "--scores",
        str(tmp_path / "s.json"),
        "--cmc",
        str(tmp_path / "c.csv"),
        "--rankings",
        str(tmp_path / "r"),
    ]
    with pytest.raises(DataError, match=rf"^{tmp_path / 'valid.h5'}: not found \(score.split is valid\)$"):
        load_stage("score")([*score_args, "--fused", str(out / "fused"), "--reranked", str(tmp_path)])
    with pytest.raises(DataError, match=f"^{tmp_path / 'fusion.json'}: not found; `dvc repro fuse` makes it$"):
        load_stage("score")([*score_args, "--fused", str(tmp_path), "--reranked", str(out / "reranked")])
    with pytest.raises(DataError, match=f"^{tmp_path / 'fusion.json'}: not found; `dvc repro` makes it$"):
        load_stage("report")(
            [
                "--params",
                p,
                "--scores",
                str(out / "scores.json"),
                "--distances",
                str(out / "distances"),
                "--fused",
                str(tmp_path),
                "--reranked",
                str(out / "reranked"),
                "--cmc",
                str(tmp_path / "c.csv"),
                "--rankings",
                str(tmp_path),
                "--index",
                str(tmp_path),
                "--live",
                str(tmp_path),
                "--out",
                str(tmp_path / "reports"),
            ]
        )
    for model in MODELS:
        (tmp_path / "d" / model).mkdir(parents=True)
        (tmp_path / "d" / model / "test.h5").write_bytes(b"")
    with pytest.raises(
        DataError, match="no valid distances for resnet50_ibn, dinov2_lora, osnet_ain; the grid search needs"
    ):
        load_stage("fuse")(
            [
                "--params",
                p,
                "--distances",
                str(tmp_path / "d"),
                "--features",
                str(tmp_path),
                "--out",
                str(tmp_path / "f"),
            ]
        )
    assert not (tmp_path / "f").exists() and not (tmp_path / "reports").exists()


def test_a_single_model_run_reproduces_its_table_row(workspace, main_run):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["fusion"].update(models=["osnet_ain"], weights=[1.0], method="weighted")
    params["rerank"]["enabled"] = False
    (workspace / "single.yaml").write_text(yaml.safe_dump(params))
    full = main_run[0]
    single = run_dag(workspace, "single.yaml", name="single")
    assert single["mAP"] == single["models"]["osnet_ain"]["mAP"] == full["models"]["osnet_ain"]["mAP"]
    assert single["rank1"] == full["models"]["osnet_ain"]["rank1"]


def test_query_expansion_rows_are_scored_and_qe_enabled_feeds_rerank(workspace, main_run):
    full = main_run[0]
    assert set(full["qe"]) == {"aqe", "alpha_qe", "dba"} and full["qe_settings"] == {"k": 5, "alpha": 3.0, "times": 1}
    assert set(full["heldout"]["qe"]) == set(full["challenge"]["qe"]) == {"aqe", "alpha_qe", "dba"}
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["qe"].update(enabled=True, method="dba")
    params["rerank"]["enabled"] = False
    (workspace / "qe.yaml").write_text(yaml.safe_dump(params))
    alone = run_dag(workspace, "qe.yaml", name="qe")
    assert alone["method"] == "qe:dba/5/3/1"
    assert (alone["mAP"], alone["rank1"]) == (full["qe"]["dba"]["mAP"], full["qe"]["dba"]["rank1"])
    assert alone["official"]["agrees"] is True
    params["rerank"]["enabled"] = True
    (workspace / "qe_rerank.yaml").write_text(yaml.safe_dump(params))
    both = run_dag(workspace, "qe_rerank.yaml", name="qe_rerank")
    assert both["method"] == "qe:dba/5/3/1+rerank:20/6/0.3"
    expanded = read_blocks(workspace / "qe" / "reranked" / "valid.h5")
    expected = rerank_blocks(expanded, 20, 6, 0.3)
    np.testing.assert_array_equal(
        read_blocks(workspace / "qe_rerank" / "reranked" / "valid.h5").values, expected.values
    )


def test_normalised_fusion_has_no_expansion_rows(workspace):
    params = yaml.safe_load((workspace / "params.yaml").read_text())
    params["fusion"]["normalize"] = "minmax"
    (workspace / "minmax.yaml").write_text(yaml.safe_dump(params))
    assert run_dag(workspace, "minmax.yaml", name="minmax")["qe"] == {}
