"""The Table 1 folder layout (soccerreid.layout): the writers of fuse and rerank put every row
where the readers of score, report and explorer look for it."""

import numpy as np
from synthetic_blocks import synthetic_feature_set, synthetic_split

from soccerreid.config.retrieval import RERANK_PRESETS
from soccerreid.layout import fusion_file, preset_file, qe_file, table_files, write_fused, write_reranked
from soccerreid.retrieval import features_to_blocks
from soccerreid.retrieval.expansion import QE_METHODS
from soccerreid.retrieval.fusion import FUSION_METHODS
from soccerreid.schema import read_blocks


def test_the_row_files_are_where_the_docs_say(tmp_path):
    assert fusion_file(tmp_path, "grid", "test") == tmp_path / "methods" / "grid" / "test.h5"
    assert preset_file(tmp_path, "broad", "valid") == tmp_path / "presets" / "broad" / "valid.h5"
    assert qe_file(tmp_path, "dba", "challenge") == tmp_path / "qe" / "dba" / "challenge.h5"
    files = table_files(tmp_path / "d", tmp_path / "f", tmp_path / "r", ["osnet_ain"], "valid")
    assert files["models"] == {"osnet_ain": tmp_path / "d" / "osnet_ain" / "valid.h5"}
    assert list(files["fusion"]) == list(FUSION_METHODS) and list(files["qe"]) == list(QE_METHODS)
    assert list(files["rerank"]) == list(RERANK_PRESETS)


def test_what_fuse_and_rerank_write_is_what_table_files_finds(tmp_path):
    split = synthetic_split(3, 9, 20)
    blocks = {n: features_to_blocks(synthetic_feature_set(split, 8, 3.0, model=n)) for n in ("a", "b", "c", "d", "e")}
    variants = {m: blocks["a"] for m in FUSION_METHODS}
    write_fused(tmp_path / "fused", "valid", {**variants, "weighted": blocks["b"]}, "weighted")
    rows = {"presets": {p: blocks["c"] for p in RERANK_PRESETS}, "qe": {m: blocks["d"] for m in QE_METHODS}}
    write_reranked(tmp_path / "reranked", "valid", blocks["e"], rows)
    files = table_files(tmp_path / "distances", tmp_path / "fused", tmp_path / "reranked", [], "valid")
    found = {group: {n: read_blocks(p).source for n, p in named.items()} for group, named in files.items()}
    assert found["fusion"] == {m: "b" if m == "weighted" else "a" for m in FUSION_METHODS}
    assert set(found["rerank"].values()) == {"c"} and set(found["qe"].values()) == {"d"}
    assert read_blocks(tmp_path / "fused" / "valid.h5").source == "b"
    assert read_blocks(tmp_path / "reranked" / "valid.h5").source == "e"
    assert np.array_equal(read_blocks(files["rerank"]["broad"]).values, blocks["c"].values)
