"""Write the synthetic dataset in the exact SoccerNet ReID on-disk layout.

Under ``<raw_dir>/reid/``, as the SoccerNet SDK leaves it once the zips are unzipped::

    train/<championship>/<season>/<game>/<action>/*.png      + train/train_bbox_info.json
    valid/{query,gallery}/<championship>/<season>/<game>/<action>/*.png + valid/valid_bbox_info.json
    test/...                                                   (as valid)
    challenge/{query,gallery}/*.png   label-free names        + challenge/challenge_bbox_info.json (no labels)
    test_bbox_info.json, challenge_bbox_info.json             the released labels (SDK splits
                                                              ``test_labels``, ``challenge_labels``)

Numbering is SoccerNet's (see :mod:`.plan`). The whole folder is written atomically.

Examples::

    counts = generate_synthetic(SyntheticConfig(), "data/raw")
    counts["valid"]        # {'query': 160, 'gallery': 690}
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from soccerreid.config.data import SyntheticConfig
from soccerreid.data.naming import CropName, format_name
from soccerreid.data.soccernet import LABEL_FILES
from soccerreid.data.synthetic.plan import ActionPlan, Counters, plan_split
from soccerreid.data.synthetic.render import render_shot
from soccerreid.data.synthetic.world import make_world
from soccerreid.io import atomic_dir, write_json
from soccerreid.vocab import SPLITS

TASK_DIR = "reid"
_LABEL_KEYS = ("person_uid", "frame_idx", "clazz", "id", "UAI")


def generate_synthetic(
    config: SyntheticConfig, raw_dir: str | os.PathLike, workers: int = 1
) -> dict[str, dict[str, int]]:
    """Generate every split into ``raw_dir`` (replaced atomically); return crop counts per role.

    Deterministic for ``config.seed``: the same config gives byte-identical files whatever
    ``workers`` (rendering processes) is.

    Examples::

        generate_synthetic(SyntheticConfig(actions=SplitActions(2, 1, 1, 1)), "/tmp/raw")
    """
    plans = plan_dataset(config)
    with atomic_dir(raw_dir) as tmp:
        entries = render_actions(plans, tmp / TASK_DIR, workers)
        counts = write_metadata(tmp, plans, entries)
    return counts


def plan_dataset(config: SyntheticConfig) -> list[ActionPlan]:
    """Plan all four splits (train, valid, test, challenge), numbered as SoccerNet numbers them.

    Examples::

        len(plan_dataset(SyntheticConfig()))        # 120 actions with the defaults
    """
    world = make_world(np.random.default_rng([config.seed, 0]), config.teams, config.real_players_per_team)
    counters = Counters()
    plans = []
    for split in SPLITS:
        counters.next_split()
        plans += plan_split(config, world, split, counters)
    return plans


def render_actions(plans: list[ActionPlan], root: Path, workers: int) -> list[list[dict]]:
    """Render and write every action's crops under ``root``, in parallel over actions.

    Returns, per action, one bbox_info entry (plus its ``role``) per crop.

    Examples::

        render_actions(plan_dataset(config), Path("/tmp/raw/reid"), workers=2)[0][0]["bbox_idx"]
    """
    jobs = [(plan, root) for plan in plans]
    progress = {"total": len(jobs), "desc": "prepare: rendering", "unit": "action", "mininterval": 2.0}
    if workers <= 1:
        return [_render_job(job) for job in tqdm(jobs, **progress)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(_render_job, jobs, chunksize=1), **progress))


def _render_job(job: tuple[ActionPlan, Path]) -> list[dict]:
    plan, root = job
    return render_action(plan, root)


def render_action(plan: ActionPlan, root: Path) -> list[dict]:
    """Render one action's crops to PNG files and return their bbox_info entries (with ``role``).

    Examples::

        render_action(plan, Path("/tmp/raw/reid"))[0]["relative_path"]
    """
    entries = []
    for shot, role in zip(plan.shots, plan.roles):
        rgb = render_shot(shot)
        entry = {
            "bbox_idx": shot.bbox_idx,
            "action_idx": plan.action_idx,
            "person_uid": shot.person.person_uid,
            "frame_idx": shot.camera.frame_idx,
            "clazz": shot.person.clazz,
            "id": plan.jerseys[shot.person.person_uid],
            "UAI": shot.camera.uai,
            "height": int(rgb.shape[0]),
            "width": int(rgb.shape[1]),
        }
        relative = _relative_path(plan, role, entry)
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(path, format="PNG", compress_level=1)
        entries.append({**entry, "relative_path": relative, "role": role})
    return entries


def _relative_path(plan: ActionPlan, role: str, entry: dict) -> str:
    if plan.split == "challenge":
        name = format_name(CropName(entry["bbox_idx"], entry["action_idx"], entry["height"], entry["width"]))
    else:
        name = format_name(
            CropName(
                entry["bbox_idx"],
                entry["action_idx"],
                entry["height"],
                entry["width"],
                entry["person_uid"],
                entry["frame_idx"],
                entry["clazz"],
                entry["id"],
                entry["UAI"],
            )
        )
    parts = [plan.split] + ([] if role == "train" else [role]) + ([plan.folder] if plan.folder else []) + [name]
    return "/".join(parts)


def write_metadata(root: Path, plans: list[ActionPlan], entries: list[list[dict]]) -> dict[str, dict[str, int]]:
    """Write each split's bbox_info JSON and the released label files; return counts per role.

    Examples::

        write_metadata(Path("/tmp/raw"), plans, entries)["train"]     # {'train': 2400}
    """
    by_split: dict[str, dict[str, dict[str, dict]]] = {split: {} for split in SPLITS}
    for plan, action_entries in zip(plans, entries):
        for entry in action_entries:
            role = entry.pop("role")
            by_split[plan.split].setdefault(role, {})[str(entry["bbox_idx"])] = entry
    task = root / TASK_DIR
    write_json(task / "train" / "train_bbox_info.json", by_split["train"]["train"])
    for split in ("valid", "test"):
        write_json(task / split / f"{split}_bbox_info.json", by_split[split])
    challenge = by_split["challenge"]
    unlabelled = {role: {k: _strip_labels(v) for k, v in group.items()} for role, group in challenge.items()}
    write_json(task / "challenge" / "challenge_bbox_info.json", unlabelled)
    for split, name in LABEL_FILES.items():
        write_json(task / name, by_split[split])
    return {split: {role: len(group) for role, group in groups.items()} for split, groups in by_split.items()}


def _strip_labels(entry: dict) -> dict:
    return {key: value for key, value in entry.items() if key not in _LABEL_KEYS}
