"""The report stage's static explorer (reports/explorer/index.html): offline from file://, small,
and showing what the run's files say (index labels, blocks, the final ranking)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import average_precision, blocks_ranking, final_ranking, hits, labels

from soccerreid.explorer.run import Run, RunPaths
from soccerreid.explorer.static import THUMB_HEIGHT, write_static_explorer
from soccerreid.reporting.qualitative import MATCH_COLOR, MISS_COLOR

pytestmark = pytest.mark.slow  # the finished run is the session's smoke dvc repro
GREEN, RED = ("rgb({}, {}, {})".format(*c) for c in (MATCH_COLOR, MISS_COLOR))


def _data(folder) -> dict:
    text = (folder / "index.html").read_text()
    return json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', text, re.S).group(1))


def test_the_report_stage_writes_a_small_self_contained_page(finished_run):
    folder = finished_run / "reports" / "explorer"
    text = (folder / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), "the page must fetch nothing from the network"
    data = _data(folder)
    ranking = final_ranking(finished_run, "valid")
    assert sorted(e["q"] for e in data["queries"]) == sorted(ranking), (
        "fewer queries than explorer_queries: all of them"
    )
    shown = {f"q{e['q']}.jpg" for e in data["queries"]}
    shown |= {f"g{g}.jpg" for e in data["queries"] for top in e["top"].values() for g, _ in top}
    assert {p.name for p in (folder / "thumbs").iterdir()} == shown
    import cv2

    assert {cv2.imread(str(p)).shape[0] for p in (folder / "thumbs").iterdir()} == {THUMB_HEIGHT}
    assert max(p.stat().st_size for p in (folder / "thumbs").iterdir()) < 6_000, "thumbnails, not full crops"


def test_explorer_queries_caps_the_page_at_a_seeded_sample(finished_run, tmp_path):
    run = Run(RunPaths.under(finished_run))
    first = write_static_explorer(run, "valid", tmp_path / "a", count=5, top_k=3, seed=0)
    write_static_explorer(run, "valid", tmp_path / "b", count=5, top_k=3, seed=0)
    assert first["queries"] == 5
    assert (tmp_path / "a" / "index.html").read_text() == (tmp_path / "b" / "index.html").read_text()
    assert all(len(top) == 3 for e in _data(tmp_path / "a")["queries"] for top in e["top"].values())


def test_the_page_opens_offline_filters_and_shows_two_methods_side_by_side(page, finished_run):
    folder = finished_run / "reports" / "explorer"
    requests = []
    page.route(
        "**/*",
        lambda route: (
            requests.append(route.request.url),
            route.continue_() if route.request.url.startswith("file:") else route.abort(),
        ),
    )
    page.goto((folder / "index.html").as_uri())
    page.wait_for_selector("#side .tile.gallery")
    assert all(url.startswith("file:") for url in requests), [u for u in requests if not u.startswith("file:")]
    data = _data(folder)
    a, b = data["pair"]
    scores = json.loads((finished_run / "metrics" / "scores.json").read_text())
    best = max(scores["models"], key=lambda m: scores["models"][m]["mAP"])
    assert (a, b) == (f"models/{best}", "final")
    truth = labels(finished_run, "valid")
    expected = {
        a: hits(blocks_ranking(finished_run / "artifacts" / "distances" / best / "valid.h5"), truth),
        b: hits(final_ranking(finished_run, "valid"), truth),
    }
    total = len(data["queries"])
    assert page.inner_text("#count") == f"{total} of {total} queries"
    assert page.locator("#queries tbody tr").count() == total
    page.select_option("#rank1", "hit")
    hit = sorted(q for q in expected[a] if expected[a][q][0])
    assert 0 < len(hit) < total
    assert (
        sorted(int(q) for q in page.locator("#queries tbody tr").evaluate_all("rs => rs.map(r => r.dataset.query)"))
        == hit
    )
    page.select_option("#rank1", "")
    query = next(
        (q for q in sorted(expected[a]) if average_precision(expected[a][q]) != average_precision(expected[b][q])),
        min(expected[a]),
    )
    page.locator(f'#queries tbody tr[data-query="{query}"]').click()
    rows = page.locator("#side .retrieval")
    assert rows.count() == 2
    for i, key in enumerate((a, b)):
        assert rows.nth(i).get_attribute("data-method") == key
        tiles = rows.nth(i).locator(".tile.gallery img")
        colours = tiles.evaluate_all("es => es.map(e => getComputedStyle(e).borderTopColor)")
        assert colours == [GREEN if m else RED for m in expected[key][query][: data["top_k"]]]
        assert tiles.evaluate_all("es => es.every(e => e.complete && e.naturalHeight > 0)"), (
            "every thumbnail loads from file://"
        )
    delta = 100 * (average_precision(expected[b][query]) - average_precision(expected[a][query]))
    assert page.inner_text("#side .delta") == f"AP change B - A: {'+' if delta >= 0 else ''}{delta:.1f}"
