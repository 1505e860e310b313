"""Test helpers shared across the test folders (tests/ is on pytest's ``pythonpath``): the tiny
synthetic SoccerNet that the unit tests generate, and the loader of a stage script's ``main``.

Examples::

    generate_synthetic(TINY, tmp_path / "raw")                     # 9 actions of 5-8 people
    params["data"] = tiny_data_section(replace(TINY, seed=1))      # the same, as params.yaml's data
    load_stage("prepare")(["--params", "params.yaml", "--raw", "data/raw", "--index", "data/index"])
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

from soccerreid.config.data import SplitActions, SyntheticConfig

ROOT = Path(__file__).resolve().parents[1]

# the tiny synthetic SoccerNet: SoccerNet's folders, names and bbox_info.json in a few hundred crops
TINY = SyntheticConfig(
    seed=3,
    actions=SplitActions(train=3, valid=2, test=2, challenge=2),
    games=2,
    teams=3,
    real_players_per_team=11,
    people_per_action=(5, 8),
    frames_per_action=(2, 3),
    crop_height=(30, 90),
)


def tiny_data_section(config: SyntheticConfig = TINY) -> dict:
    """params.yaml's ``data`` section that generates ``config``."""
    synthetic = {
        key: list(value) if isinstance(value, tuple) else value for key, value in dataclasses.asdict(config).items()
    }
    return {"source": "synthetic", "synthetic": synthetic}


def load_stage(name: str) -> Callable[[list[str] | None], None]:
    """The ``main(argv)`` of ``stages/<name>.py``, imported from the file (stages/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main
