"""Which splits a stage's input folder holds, and reading one split of several models (soccerreid.splits)."""

import numpy as np
import pytest
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.errors import DataError
from soccerreid.retrieval import features_to_blocks
from soccerreid.schema import write_blocks, write_features
from soccerreid.splits import present_splits, read_model_blocks, split_files


def test_split_files_lists_the_eval_splits_present_in_order(tmp_path):
    assert split_files(tmp_path) == {}
    with pytest.raises(
        DataError, match=rf"^{tmp_path}: no fused distances for any of valid, test, challenge \(<split>.h5\)$"
    ):
        split_files(tmp_path, what="fused distances")
    for name in ("challenge.h5", "valid.h5", "train.h5"):
        (tmp_path / name).write_bytes(b"")
    assert split_files(tmp_path, what="x") == {"valid": tmp_path / "valid.h5", "challenge": tmp_path / "challenge.h5"}


def test_read_model_blocks_reads_aligned_models_and_names_a_misaligned_one(tmp_path):
    labels, other = synthetic_split(4, 20, 50, seed=0), synthetic_split(4, 20, 50, seed=1)
    for model, split_labels in (("a", labels), ("b", labels), ("c", other)):
        fs = synthetic_feature_set(split_labels, 8, 3.0, seed=2, model=model, name="valid")
        write_features(tmp_path / "features" / model / "valid.h5", fs)
        write_blocks(tmp_path / "distances" / model / "valid.h5", features_to_blocks(fs))
    assert present_splits(tmp_path / "distances", ("a", "b", "c")) == ["valid"]
    blocks, features = read_model_blocks(tmp_path / "distances", ("a", "b"), "valid")
    assert features is None and [b.source for b in blocks] == ["a", "b"]
    assert np.array_equal(blocks[0].bbox_idx, blocks[1].bbox_idx)
    _, features = read_model_blocks(tmp_path / "distances", ("a", "b"), "valid", features=tmp_path / "features")
    assert [fs.model for fs in features] == ["a", "b"] and features[0].features.shape[1] == 8
    with pytest.raises(
        DataError, match=r"distances/c/valid.h5: its actions or members differ from those of .*distances/a/valid.h5"
    ):
        read_model_blocks(tmp_path / "distances", ("a", "c"), "valid")
