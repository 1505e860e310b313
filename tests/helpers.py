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

import yaml

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


# three valid actions of 6-9 people in 3-4 frames: enough queries that two random models' scores differ
TINY_VALID = dataclasses.replace(
    TINY,
    actions=SplitActions(train=1, valid=3, test=1, challenge=1),
    people_per_action=(6, 9),
    frames_per_action=(3, 4),
)


def tiny_params(path: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    """Write the smoke preset on the :data:`TINY_VALID` data with only the models of ``sizes`` (no soup), LoRA
    as the session model files' DINOv2 has it, extraction at ``sizes`` (model -> (height, width)); returns ``path``."""
    params = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())
    params["data"] = {**params["data"], **tiny_data_section(TINY_VALID)}
    params["models"] = {model: params["models"][model] for model in sizes}
    params["soups"] = {}
    if "dinov2_lora" in sizes:
        params["models"]["dinov2_lora"]["lora"] = {"r": 4, "alpha": 16.0, "dropout": 0.0, "targets": ["qkv", "mlp"]}
    params["extract"] = {
        model: {"height": h, "width": w, "batch_size": 64, "workers": 0} for model, (h, w) in sizes.items()
    }
    params["fusion"]["grid_step"] = 0.25
    path.write_text(yaml.safe_dump(params))
    return path
