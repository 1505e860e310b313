"""``soccerreid explore`` in headless Chromium: what a user sees on a tiny finished run.

Each test keeps a screenshot (tests/artifacts/explorer/<test>.png). Expected crops, borders and
APs come from the run's files (conftest helpers), never from the explorer's own code.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import average_precision, blocks_ranking, explorer, final_ranking, hits, labels, settled_status

from soccerreid.reporting.qualitative import MATCH_COLOR, MISS_COLOR

pytestmark = pytest.mark.slow
SPLIT = "valid"
GREEN, RED = ("rgb({}, {}, {})".format(*c) for c in (MATCH_COLOR, MISS_COLOR))


@pytest.fixture(scope="module")
def url(finished_run):
    with explorer(finished_run) as address:
        yield address


@pytest.fixture(scope="module")
def expected(finished_run):
    """What the page must show: A (the best single model) and B (final) rankings, their matches and APs."""
    scores = json.loads((finished_run / "metrics" / "scores.json").read_text())
    best = max(scores["models"], key=lambda m: scores["models"][m]["mAP"])
    truth = labels(finished_run, SPLIT)
    a = hits(blocks_ranking(finished_run / "artifacts" / "distances" / best / f"{SPLIT}.h5"), truth)
    b = hits(final_ranking(finished_run, SPLIT), truth)
    return {
        "best": best,
        "a": a,
        "b": b,
        "rank_a": blocks_ranking(finished_run / "artifacts" / "distances" / best / f"{SPLIT}.h5"),
        "ap_a": {q: average_precision(m) for q, m in a.items()},
        "ap_b": {q: average_precision(m) for q, m in b.items()},
    }


def choose(page, elem_id: str, prefix: str) -> None:
    """Pick the option of dropdown ``elem_id`` whose label starts with ``prefix``."""
    page.locator(f"#{elem_id} input").click()
    page.locator(f'[role=option][aria-label^="{prefix}"]').first.click()


def listed(page) -> list[int]:
    """The query column of the list, top to bottom (the grid's cells ``cell-<row>-0``)."""
    return page.evaluate("""() => [...document.querySelectorAll('#queries [data-testid^="cell-"]')]
        .filter(e => /^cell-[0-9]+-0$/.test(e.dataset.testid)).map(e => Number(e.innerText))""")


def loaded(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#one-query .tile.gallery")


def test_the_query_list_loads_and_a_filter_changes_it(page, url, expected, finished_run):
    loaded(page, url)
    total = len(expected["a"])
    assert page.inner_text("#count").startswith(f"{total} of {total} queries")
    # the grid draws only the rows in view: read it whole within one action, one with Rank-1 hits and misses
    queries = pd.read_csv(finished_run / "data" / "index" / f"{SPLIT}.csv").query("role == 'query'")
    action_of = dict(zip(queries["bbox_idx"].astype(int), queries["action_idx"].astype(int)))
    first_hit = {}
    for query, matches in expected["a"].items():
        first_hit.setdefault(action_of[query], {})[query] = matches[0]
    mixed = [a for a, hit in sorted(first_hit.items()) if 0 < sum(not h for h in hit.values()) < len(hit)]
    assert mixed, "the smoke run should have an action with Rank-1 hits and misses under the best single model"
    action, hit = mixed[0], first_hit[mixed[0]]
    choose(page, "action", str(action))
    page.wait_for_function(f"document.querySelector('#count').innerText.startsWith('{len(hit)} of {total}')")
    assert sorted(listed(page)) == sorted(hit)
    misses = sorted(q for q, h in hit.items() if not h)
    page.locator("#rank1 label", has_text="miss").click()
    page.wait_for_function(f"document.querySelector('#count').innerText.startsWith('{len(misses)} of {total}')")
    assert sorted(listed(page)) == misses
    assert "Error" not in page.inner_text("#status")


def test_a_query_shows_its_top_k_bordered_green_or_red_by_identity(page, url, expected):
    loaded(page, url)
    k = 5
    query = next(q for q, m in sorted(expected["a"].items()) if any(m[:k]) and not all(m[:k]))  # a match and a miss
    page.locator("#top-k input[type=number]").fill(str(k))
    page.locator("#top-k input[type=number]").press("Enter")
    choose(page, "query", f"{query} (action")
    page.wait_for_selector(f'#one-query .retrieval[data-query="{query}"]')
    page.wait_for_function(
        f"document.querySelectorAll('#one-query .tile.gallery').length === {min(k, len(expected['a'][query]))}"
    )
    tiles = page.locator("#one-query .tile.gallery")
    shown = [int(tiles.nth(i).get_attribute("data-bbox")) for i in range(tiles.count())]
    assert shown == expected["rank_a"][query][:k]
    colours = [
        tiles.nth(i).locator("img").evaluate("e => getComputedStyle(e).borderTopColor") for i in range(tiles.count())
    ]
    assert colours == [GREEN if hit else RED for hit in expected["a"][query][:k]]
    ranks = [r + 1 for r, hit in enumerate(expected["a"][query]) if hit]
    assert f"true matches at ranks {', '.join(map(str, ranks))}" in page.inner_text("#one-query")
    assert f"AP {100 * expected['ap_a'][query]:.1f}" in page.inner_text("#one-query")


def test_side_by_side_shows_two_rows_and_the_ap_difference(page, url, expected):
    loaded(page, url)
    changed = [q for q in expected["a"] if expected["ap_b"][q] != expected["ap_a"][q]]
    query = changed[0] if changed else min(expected["a"])
    choose(page, "query", f"{query} (action")
    page.wait_for_selector(f'#side-by-side .retrieval[data-query="{query}"]')
    rows = page.locator("#side-by-side .retrieval")
    assert rows.count() == 2
    assert "A: " in rows.nth(0).inner_text() and "B: Final" in rows.nth(1).inner_text()
    for i, key in ((0, "a"), (1, "b")):
        colours = (
            rows.nth(i)
            .locator(".tile.gallery img")
            .evaluate_all("es => es.map(e => getComputedStyle(e).borderTopColor)")
        )
        assert colours == [GREEN if hit else RED for hit in expected[key][query][: len(colours)]]
    delta = float(page.locator("#side-by-side .delta").get_attribute("data-delta"))
    assert delta == pytest.approx(expected["ap_b"][query] - expected["ap_a"][query], abs=1e-6)
    assert f"AP change B - A: {100 * (expected['ap_b'][query] - expected['ap_a'][query]):+.1f}" in page.inner_text(
        "#side-by-side"
    )


def test_an_uploaded_crop_is_ranked_against_an_actions_gallery(page, url, finished_run):
    index = pd.read_csv(finished_run / "data" / "index" / "valid.csv")
    gallery = index[index["role"] == "gallery"]
    action = int(gallery["action_idx"].iloc[0])
    members = gallery[gallery["action_idx"] == action]
    crop = members.iloc[2]
    loaded(page, url)
    page.get_by_role("tab", name="Search by crop").click()
    page.locator("#upload input[type=file]").set_input_files(str(finished_run / crop["path"]))
    page.wait_for_selector("#upload :text('" + Path(crop["path"]).name[:12] + "')")
    choose(page, "model", "osnet_ain")
    choose(page, "search-split", "valid")
    choose(page, "gallery-action", str(action))
    page.locator("#search").click()
    page.wait_for_selector("#search-result .tile.gallery")
    tiles = page.locator("#search-result .tile.gallery")
    assert tiles.count() == min(10, len(members))
    assert int(tiles.nth(0).get_attribute("data-bbox")) == crop["bbox_idx"], (
        "the uploaded gallery crop is its own nearest"
    )
    captions = [
        re.fullmatch(r"(\d+): ([\d.]+)", tiles.nth(i).locator("figcaption").inner_text()).groups()
        for i in range(tiles.count())
    ]
    assert [int(r) for r, _ in captions] == list(range(1, tiles.count() + 1))
    distances = [float(d) for _, d in captions]
    assert distances[0] < 1e-3 < distances[1] and distances == sorted(distances)
    assert "Error" not in page.inner_text("#status")


def test_a_non_image_upload_says_so_in_the_page(page, url, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("these are not pixels\n")
    loaded(page, url)
    page.get_by_role("tab", name="Search by crop").click()
    page.locator("#upload input[type=file]").set_input_files(str(notes))
    page.wait_for_selector("#upload :text('notes.png')")
    page.locator("#search").click()
    page.wait_for_selector("#status .error")
    assert (
        settled_status(page) == "Error: notes.png: not an image (it does not decode); upload a PNG or JPEG player crop"
    )
    assert "Traceback" not in page.inner_text("body")


def test_an_unscored_run_and_a_missing_artifact_say_what_makes_them(page, finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    scores = (run / "metrics" / "scores.json").read_text()
    (run / "metrics" / "scores.json").unlink()
    with explorer(run) as address:
        page.goto(address)
        page.wait_for_selector("#status .error")
        message = settled_status(page)
        assert message == (
            f"Error: {run / 'metrics' / 'scores.json'}: not found (the run was never scored); "
            "`dvc repro score` makes it"
        )
        (run / "metrics" / "scores.json").write_text(scores)
        shutil.rmtree(run / "artifacts" / "reranked" / "presets" / "broad")
        loaded(page, address)
        choose(page, "method-a", "Weighted + re-rank broad")
        page.wait_for_selector("#status .error")
        broad = run / "artifacts" / "reranked" / "presets" / "broad" / "valid.h5"
        assert settled_status(page) == f"Error: {broad}: not found; `dvc repro rerank` makes it"
        assert page.locator("#one-query .tile, #side-by-side .tile").count() == 0, "nothing of the method before stays"
        assert "Traceback" not in page.inner_text("body")
