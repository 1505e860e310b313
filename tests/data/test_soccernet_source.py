"""Real SoccerNet source: local copies (zips or folders), atomic unzip, offline download failure."""

from __future__ import annotations

import shutil
import time
import zipfile
from pathlib import Path

import pytest

from soccerreid.data.soccernet import check_counts, find_groundtruth, locate_soccernet, unzip_split
from soccerreid.errors import DataError

SPLITS = ("train", "valid", "test", "challenge")


def _zip_split(reid: Path, split: str, dest: Path, wrapper: str | None = "split") -> Path:
    """Zip ``reid/<split>``, its members inside ``<split>/`` (default), ``reid/<split>/`` or at the top."""
    prefix = {"split": Path(split), "task": Path("reid", split), None: Path()}[wrapper]
    path = dest / f"{split}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted((reid / split).rglob("*")):
            archive.write(file, str(prefix / file.relative_to(reid / split)))
    return path


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_unzipped_local_copy_is_used_as_is(tiny_raw):
    assert locate_soccernet(tiny_raw, "reid") == tiny_raw / "reid"


def test_zips_are_unzipped_in_place_whatever_their_wrapper(tiny_raw, tmp_path):
    reid = tmp_path / "SoccerNet" / "reid"
    reid.mkdir(parents=True)
    wrappers = {"train": "split", "valid": "task", "test": None, "challenge": "split"}
    for split in SPLITS:
        _zip_split(tiny_raw / "reid", split, reid, wrapper=wrappers[split])
    assert locate_soccernet(tmp_path / "SoccerNet", "reid") == reid
    for split in SPLITS:
        assert _tree(reid / split) == _tree(tiny_raw / "reid" / split)
    assert not list(reid.glob(".*"))  # no temporary folder left


def test_splits_directly_in_soccernet_dir_are_found(tiny_raw, tmp_path):
    for split in SPLITS:
        shutil.copytree(tiny_raw / "reid" / split, tmp_path / split)
    assert locate_soccernet(tmp_path, "reid") == tmp_path


def test_truncated_zip_fails_and_leaves_no_split(tiny_raw, tmp_path):
    good = _zip_split(tiny_raw / "reid", "valid", tmp_path)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=rf"^{good}: cannot unzip \(.+\); delete it and download or copy it again$"):
        unzip_split(good, tmp_path / "valid")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["valid.zip"]


def test_corrupt_member_fails_and_leaves_no_split(tiny_raw, tmp_path):
    path = _zip_split(tiny_raw / "reid", "test", tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside some member's compressed bytes: CRC check fails
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"^{path}: cannot unzip"):
        unzip_split(path, tmp_path / "test")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.zip"]


def test_missing_split_without_download_says_how_to_supply_it(tiny_raw, tmp_path):
    for split in ("train", "valid", "test"):
        shutil.copytree(tiny_raw / "reid" / split, tmp_path / "reid" / split)
    with pytest.raises(DataError) as err:
        locate_soccernet(tmp_path, "reid")
    assert str(err.value) == (
        f"{tmp_path / 'reid'}: SoccerNet split(s) challenge not found; put challenge.zip (or the unzipped split "
        "folders) there by hand, or set data.download: true to fetch them with the SoccerNet SDK"
    )


def _assert_offline_message(message: str, root: Path, error_name: str) -> None:
    assert "\n" not in message
    assert message.startswith(f"SoccerNet download of reid train/valid/test/challenge into {root / 'reid'} failed ({error_name}: ")
    assert message.endswith(
        f"without network, put train.zip, valid.zip, test.zip, challenge.zip (or the unzipped folders) in {root / 'reid'} "
        "by hand and set data.download: false"
    )


def test_offline_download_fails_fast_with_one_line(tmp_path, monkeypatch):
    from SoccerNet.Downloader import SoccerNetDownloader

    def refuse(self, task, split, **kwargs):
        raise ConnectionError("[Errno -2] Name or service not known\nsecond line")

    monkeypatch.setattr(SoccerNetDownloader, "downloadDataTask", refuse)
    with pytest.raises(DataError) as err:
        locate_soccernet(tmp_path, "reid", download=True)
    _assert_offline_message(str(err.value), tmp_path, "ConnectionError")
    assert not (tmp_path / "reid").exists() or not any((tmp_path / "reid").iterdir())


def test_offline_sdk_hub_error_is_reported(tmp_path, monkeypatch):
    """The SDK's own code path down to its Hugging Face call, which fails offline at once."""
    import SoccerNet.Downloader as downloader
    from huggingface_hub.errors import LocalEntryNotFoundError

    calls = []

    def offline(**kwargs):
        calls.append(kwargs)
        raise LocalEntryNotFoundError("cannot reach the Hub and nothing is cached")

    monkeypatch.setattr(downloader, "snapshot_download", offline)
    start = time.perf_counter()
    with pytest.raises(DataError) as err:
        locate_soccernet(tmp_path, "reid", download=True)
    assert time.perf_counter() - start < 10
    _assert_offline_message(str(err.value), tmp_path, "LocalEntryNotFoundError")
    assert calls[0]["repo_id"] == "SoccerNet/SN-ReID-2023"
    assert calls[0]["local_dir"] == str(tmp_path / "reid")
    assert sorted(calls[0]["allow_patterns"]) == ["challenge.zip", "test.zip", "train.zip", "valid.zip"]


def test_download_fetches_only_missing_splits_then_unzips(tiny_raw, tmp_path, monkeypatch):
    from SoccerNet.Downloader import SoccerNetDownloader

    for split in ("train", "valid", "test"):
        shutil.copytree(tiny_raw / "reid" / split, tmp_path / "reid" / split)
    asked = []

    def fake_download(self, task, split, **kwargs):
        asked.append((task, list(split)))
        for name in split:
            _zip_split(tiny_raw / "reid", name, Path(self.LocalDirectory) / task)

    monkeypatch.setattr(SoccerNetDownloader, "downloadDataTask", fake_download)
    assert locate_soccernet(tmp_path, "reid", download=True) == tmp_path / "reid"
    assert asked == [("reid", ["challenge"])]
    assert _tree(tmp_path / "reid" / "challenge") == _tree(tiny_raw / "reid" / "challenge")


def test_counts_are_checked_against_published_sizes():
    assert check_counts("valid", {"query": 11_638, "gallery": 34_355}) == []
    assert check_counts("train", {"train": 248_234}) == []
    assert check_counts("test", {"query": 10, "gallery": 34_989}) == [
        "test: 34,999 images, SoccerNet publishes 46,766 (incomplete or modified copy?)",
        "test: 10 query images, SoccerNet publishes 11,777 (incomplete or modified copy?)",
    ]


def test_groundtruth_is_found_by_known_names(tiny_raw, tmp_path):
    assert find_groundtruth([tiny_raw / "reid", tiny_raw]) == tiny_raw / "challenge_groundtruth.json"
    (tmp_path / "challenge_bbox_info.json").write_text("{}")
    assert find_groundtruth([tmp_path]) == tmp_path / "challenge_bbox_info.json"
    assert find_groundtruth([tmp_path / "nowhere"]) is None
