"""Real SoccerNet source: local copies (zips or folders), checked atomic unzip, and the download
through the real SoccerNet SDK and huggingface_hub client against a loopback Hub (hubmock)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hubmock import HubMock, build_soccernet_archives, wait_for

from soccerreid.data.index import scan_split
from soccerreid.data.soccernet import check_counts, find_labels, locate_soccernet, unzip_split
from soccerreid.errors import DataError
from soccerreid.vocab import SPLITS


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


ROOT = Path(__file__).resolve().parents[2]


def _prepare(soccernet_dir: Path, work: Path, env: dict[str, str], timeout: float = 120) -> subprocess.Popen:
    """Start the real prepare stage on ``soccernet_dir`` with ``data.download: true``."""
    params = yaml.safe_load((ROOT / "presets" / "soccernet-cpu.yaml").read_text())
    params["data"].update(soccernet_dir=str(soccernet_dir), download=True, workers=2)
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [
        sys.executable,
        str(ROOT / "stages" / "prepare.py"),
        "--params",
        "params.yaml",
        "--raw",
        "raw",
        "--index",
        "index",
    ]
    return subprocess.Popen(
        cmd, cwd=work, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


@pytest.fixture(scope="module")
def archives(tiny_raw, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """SoccerNet's published files (four zips, two label files) built from the tiny tree."""
    return build_soccernet_archives(tiny_raw / "reid", tmp_path_factory.mktemp("archives"))


def test_download_runs_the_real_sdk_and_hub_client_then_unzips(archives, tiny_raw, tmp_path):
    """The SDK's own call, the real huggingface_hub client, a loopback Hub: zips and labels."""
    with HubMock(archives) as hub:
        code, output = _finish(_prepare(tmp_path / "SoccerNet", tmp_path / "work", hub.env(tmp_path / "hf")))
    assert code == 0, output
    reid = tmp_path / "SoccerNet" / "reid"
    for split in SPLITS:
        assert _tree(reid / split) == _tree(tiny_raw / "reid" / split)
    for name in ("test_bbox_info.json", "challenge_bbox_info.json"):
        assert (reid / name).read_bytes() == (tiny_raw / "reid" / name).read_bytes()
    fetched = sorted(
        path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path
    )
    assert fetched == sorted(
        ["challenge.zip", "test.zip", "train.zip", "valid.zip", "test_bbox_info.json", "challenge_bbox_info.json"]
    )
    assert (tmp_path / "work" / "index" / "challenge_groundtruth.json").is_file()
    valid = pd.read_csv(tmp_path / "work" / "index" / "valid.csv")
    assert valid["path"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()


def test_download_fetches_only_what_is_missing(archives, tiny_raw, tmp_path):
    reid = tmp_path / "SoccerNet" / "reid"
    for split in ("train", "valid", "test"):
        shutil.copytree(tiny_raw / "reid" / split, reid / split)
    shutil.copy(tiny_raw / "reid" / "test_bbox_info.json", reid)
    with HubMock(archives) as hub:
        code, output = _finish(_prepare(tmp_path / "SoccerNet", tmp_path / "work", hub.env(tmp_path / "hf")))
    assert code == 0, output
    fetched = sorted(
        path.rsplit("/", 1)[-1] for method, path in hub.requests if method == "GET" and "/resolve/" in path
    )
    assert fetched == ["challenge.zip", "challenge_bbox_info.json"]
    assert _tree(reid / "challenge") == _tree(tiny_raw / "reid" / "challenge")


def test_offline_download_fails_fast_with_one_line(tmp_path):
    """No Hub at the endpoint (a closed loopback port): one line, in seconds, nothing half-made."""
    with HubMock({}) as hub:
        env = hub.env(tmp_path / "hf")
    start = time.perf_counter()
    code, output = _finish(_prepare(tmp_path / "SoccerNet", tmp_path / "work", env))
    assert time.perf_counter() - start < 30
    assert code == 2
    message = output.strip().splitlines()[-1]
    root = tmp_path / "SoccerNet"
    assert message.startswith(
        "error: SoccerNet download of reid train/valid/test/challenge/test_labels/challenge_labels "
        f"into {root / 'reid'} failed ("
    )
    assert message.endswith(
        "without network, put train.zip, valid.zip, test.zip, challenge.zip, test_bbox_info.json, "
        f"challenge_bbox_info.json (or the unzipped folders) in {root / 'reid'} by hand and set data.download: false"
    )
    assert not list((root / "reid").glob("*.zip")) and not (tmp_path / "work" / "index").exists()


def test_download_killed_midway_resumes_and_finishes_cleanly(archives, tiny_raw, tmp_path):
    """SIGKILL prepare while train.zip streams; the rerun resumes and no partial split remains."""
    env = {}
    with HubMock(archives, stall="train.zip", stall_after=64 * 1024) as hub:
        env = hub.env(tmp_path / "hf")
        process = _prepare(tmp_path / "SoccerNet", tmp_path / "work", env)
        assert wait_for(hub.stalled, 60), _finish(process)[1]
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        reid = tmp_path / "SoccerNet" / "reid"
        assert not (reid / "train").exists() and not (reid / "train.zip").exists()
        hub.release()
        code, output = _finish(_prepare(tmp_path / "SoccerNet", tmp_path / "work", env))
    assert code == 0, output
    assert _tree(reid / "train") == _tree(tiny_raw / "reid" / "train")
    assert not [p for p in reid.iterdir() if p.name.startswith(".") and p.name != ".cache"]


def test_zip_with_images_missing_fails_and_leaves_no_split(tiny_raw, tmp_path):
    tree = Path(shutil.copytree(tiny_raw / "reid" / "valid", tmp_path / "tree" / "valid"))
    lost = sorted((tree / "gallery").rglob("*.png"))[3]
    lost.unlink()
    path = _zip_split(tmp_path / "tree", "valid", tmp_path)
    with pytest.raises(DataError) as err:
        unzip_split(path, tmp_path / "valid")
    message = str(err.value)
    assert message.startswith(
        f"{path}: the archive is incomplete or malformed ({tmp_path / 'valid' / 'valid_bbox_info.json'}: lists "
    )
    assert "1 missing, 0 not listed; first: gallery bbox" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tree", "valid.zip"]


def test_unzipped_split_with_wrong_counts_is_an_error(tiny_raw, tmp_path):
    reid = Path(shutil.copytree(tiny_raw / "reid", tmp_path / "reid"))
    extra = sorted((reid / "test" / "query").rglob("*.png"))[0]
    bbox, rest = extra.name.split("-", 1)
    shutil.copy(extra, extra.with_name(f"9999-{rest}"))
    with pytest.raises(
        DataError,
        match=r"test_bbox_info.json: lists \d+ crops but the split holds \d+ \(0 missing, 1 not listed; "
        r"first: query bbox 9999 is not listed\); the copy is incomplete or modified",
    ):
        scan_split(reid / "test", "test")


def test_counts_are_checked_against_published_sizes():
    assert check_counts("valid", {"query": 11_638, "gallery": 34_355}) == []
    assert check_counts("train", {"train": 248_234}) == []
    assert check_counts("test", {"query": 10, "gallery": 34_989}) == [
        "test: 34,999 images, SoccerNet publishes 46,766 (incomplete or modified copy?)",
        "test: 10 query images, SoccerNet publishes 11,777 (incomplete or modified copy?)",
    ]


def test_released_labels_are_found_where_the_sdk_writes_them(tiny_raw, tmp_path):
    reid = tiny_raw / "reid"
    assert find_labels([reid, tiny_raw]) == {
        "test": reid / "test_bbox_info.json",
        "challenge": reid / "challenge_bbox_info.json",
    }
    (tmp_path / "challenge_bbox_info.json").write_text("{}")
    assert find_labels([tmp_path / "nowhere", tmp_path]) == {"challenge": tmp_path / "challenge_bbox_info.json"}
    assert find_labels([tmp_path / "nowhere"]) == {}
