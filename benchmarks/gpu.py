"""One GPU check of every CUDA branch, as one command; ends with one JSON line of its figures.

1. **Train steps** of the three models at the soccernet preset's sizes and PK batch, bf16 autocast
   and channels_last (our trainer's step), each next to torchreid's own
   ``ImageTripletEngine.forward_backward`` (fp32) for the same network and size: img/s of both,
   their ratio and peak GPU memory. DINOv2 has no torchreid model: its anchor is torchreid's
   engine on the same timm + peft network. The classifier has full SoccerNet's identity count
   (:data:`FULL_TRAIN_IDENTITIES`): its matmul and optimizer update grow with it.
   Goal: OSNet-AIN x1.0 at 256x128 >= 1.5x torchreid.
2. **The train stage under torchrun** (``--nproc_per_node=1``: NCCL + gloo, DDP, SyncBatchNorm)
   on a small synthetic SoccerNet, killed (SIGKILL to torchrun and its workers) after its first
   epoch checkpoint, then resumed to the end.
3. **Compiled extraction** (``compile_embedder``: inductor, frozen weights) against eager, at each
   model's preset extraction size and batch, flip TTA and bf16 as extraction runs: max abs diff of
   the L2-normalised embeddings, img/s of both, compile seconds.
4. **The training input pipeline** at 256x128 on all the box's cores (``make_train_loader``, one
   worker per core): img/s, which must exceed the fastest GPU training img/s at that size.

    python benchmarks/gpu.py                          # one CUDA GPU: the preset's models and sizes
    python benchmarks/gpu.py --device cpu --tiny      # CPU, tiny models and sizes (the test suite)

Run from the repository root with ``PYTHONPATH=src`` (no install needed). Sections stop starting
new work once ``--budget-s`` is spent (reported as skipped), so the command stays in its budget.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

NEEDED = (
    "torch",
    "torchvision",
    "torchreid",
    "timm",
    "peft",
    "cv2",
    "pandas",
    "h5py",
    "yaml",
    "PIL",
    "tqdm",
    "scipy",
    "gdown",
    "psutil",
)
MISSING = [name for name in NEEDED if importlib.util.find_spec(name) is None]
if MISSING:  # checked before the imports below, so a bare GPU box gets one line, not a traceback
    raise SystemExit(
        f"gpu.py: missing Python modules {', '.join(MISSING)} (carry them as wheel files: docs/training.md)"
    )

import psutil
import torch
import yaml
from input_pipeline import write_crops  # benchmarks/ is the script's folder, first on sys.path
from train_step import TorchreidShaped, batch, make_ours_step, make_torchreid_step, time_steps, torchreid_net

from soccerreid.config import load_params
from soccerreid.config.models import IMAGENET_MEAN, IMAGENET_STD, ExtractConfig, LoraConfig, ModelConfig, TrainConfig
from soccerreid.features.extract import AMP_DTYPES, compile_embedder, embed_batch
from soccerreid.models import create_model
from soccerreid.models._backbones import set_last_stride
from soccerreid.training.augment import to_float
from soccerreid.training.builders import train_layout
from soccerreid.training.checkpoint import load_checkpoint
from soccerreid.training.data import make_train_loader

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_SIZE = (256, 128)
# Train identities left at full scale with the preset's drop_none_ids: 248,234 crops / 1.62 crops
# per (action, uid), less the 55 % of pairs seen in one frame (their id is None); REFERENCE.md's
# third-party figures, so an estimate.
FULL_TRAIN_IDENTITIES = 69_000


@dataclass(frozen=True)
class Case:
    """One model of the check: its config, training sizes, PK batch and extraction settings."""

    name: str
    cfg: ModelConfig
    sizes: tuple[tuple[int, int], ...]
    ids: int
    per_id: int
    extract: ExtractConfig
    torchreid: str | None
    classes: int = 500


def preset_cases(tiny: bool) -> list[Case]:
    """The soccernet preset's three models (random init: weights do not change speed), or tiny ones."""
    if tiny:
        small = ExtractConfig(height=64, width=32, batch_size=8, workers=0)
        return [
            Case(
                "osnet_ain", ModelConfig(arch="osnet_ain", variant="x0_25"), ((64, 32),), 4, 2, small, "osnet_ain_x0_25"
            ),
            Case(
                "resnet50_ibn",
                ModelConfig(arch="resnet50_ibn", last_stride=1),
                ((64, 32),),
                4,
                2,
                small,
                "resnet50_ibn_a",
            ),
            Case(
                "dinov2_lora",
                ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig(r=4)),
                ((56, 28),),
                4,
                2,
                dataclasses.replace(small, height=56, width=28),
                None,
            ),
        ]
    params = load_params(ROOT / "presets" / "soccernet.yaml")
    cases = []
    for name, model in params.models.items():
        cfg = dataclasses.replace(model, pretrained="none")
        sizes = tuple(dict.fromkeys((p.height, p.width) for p in model.train.phases))
        anchor = {"osnet_ain": f"osnet_ain_{model.variant}", "resnet50_ibn": "resnet50_ibn_a"}.get(name)
        cases.append(
            Case(
                name,
                cfg,
                sizes,
                model.train.ids_per_batch,
                model.train.images_per_id,
                params.extract[name],
                anchor,
                FULL_TRAIN_IDENTITIES,
            )
        )
    return cases


class Clock:
    """Wall time since start, and whether ``budget_s`` leaves room for more work."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> bool:
        return self.elapsed() < self.budget_s


def peak_memory_gb(device: torch.device, run) -> tuple[object, float | None]:
    """``run()``'s result and the peak GPU memory it allocated (GB; None on CPU)."""
    if device.type != "cuda":
        return run(), None
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    result = run()
    return result, round(torch.cuda.max_memory_allocated(device) / 1e9, 2)


def anchor_net(case: Case) -> torch.nn.Module:
    """torchreid's network for ``case`` (same last stride as ours), or ours shaped like torchreid's."""
    if case.torchreid is None:
        return TorchreidShaped(case.cfg, case.classes)
    net = torchreid_net(case.torchreid, case.classes)
    if case.cfg.arch == "resnet50_ibn":
        set_last_stride(net, case.cfg.last_stride)
    return net


def check_train_steps(cases: list[Case], device: torch.device, steps: int, clock: Clock) -> dict:
    """Section 1: ours (bf16 + channels_last on CUDA) against torchreid's engine step (fp32)."""
    amp = "bf16" if device.type == "cuda" else "none"
    rows = {}
    for case in cases:
        for height, width in case.sizes:
            key = f"{case.name}@{height}x{width}"
            if not clock.left():
                rows[key] = {"skipped_for_time": True}
                continue
            x, y = batch(height, width, case.ids, case.per_id, device=str(device))
            sampled = case.cfg.train.sampled_classes
            ours, ours_mem = peak_memory_gb(
                device,
                lambda: time_steps(make_ours_step(case.cfg, x, y, steps, amp, case.classes, sampled), steps),  # noqa: B023 (called at once)
            )
            anchor, anchor_mem = peak_memory_gb(
                device,
                lambda: time_steps(make_torchreid_step(anchor_net(case), x, y, case.classes), steps),  # noqa: B023 (called at once)
            )
            n = len(x)
            rows[key] = {
                "ours_img_s": round(n / ours, 1),
                "torchreid_img_s": round(n / anchor, 1),
                "ratio": round(anchor / ours, 2),
                "ours_peak_gb": ours_mem,
                "torchreid_peak_gb": anchor_mem,
                "batch": n,
                "classes": case.classes,
            }
            print(
                f"  {key:<24}{n / ours:>10.1f}{n / anchor:>14.1f}{anchor / ours:>8.2f}x"
                f"{str(ours_mem):>10}{str(anchor_mem):>10}",
                flush=True,
            )
    return rows


def train_params(folder: Path, case: Case, device: torch.device, tiny: bool) -> Path:
    """A params file: the smoke preset's synthetic data (every core renders), only ``case``'s model, 2 short epochs."""
    params = yaml.safe_load((ROOT / "presets" / "smoke.yaml").read_text())
    height, width = case.sizes[-1]
    if tiny:
        params["data"]["synthetic"]["actions"] = {"train": 6, "valid": 3, "test": 1, "challenge": 1}
    model = json.loads(json.dumps(dataclasses.asdict(case.cfg)))  # plain lists and dicts
    for key in ("augment", "mean", "std"):
        model.pop(key)
    model["train"] = {
        "phases": [{"epochs": 2, "height": height, "width": width}],
        "ids_per_batch": case.ids,
        "images_per_id": case.per_id,
        "ids_per_action": min(4, case.ids),
        "warmup_epochs": 0,
        "workers": 0 if tiny else min(8, os.cpu_count() or 1),
        "val_queries": 20,
        "bn_batches": 2,
        "amp": "bf16" if device.type == "cuda" else "none",
    }
    params["models"], params["soups"] = {case.name: model}, {}
    params["extract"] = {
        case.name: {"height": height, "width": width, "batch_size": case.extract.batch_size, "workers": 0}
    }
    params["fusion"].update(models=[case.name], weights=[1.0])
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def stage_env() -> dict:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        HF_HUB_OFFLINE="1",
        PYTHONWARNINGS="ignore",
    )
    env.pop("WORLD_SIZE", None)
    return env


def check_torchrun(case: Case, device: torch.device, tiny: bool) -> dict:
    """Section 2: prepare a small synthetic set, train under torchrun, SIGKILL after epoch 0, resume."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        params = train_params(folder, case, device, tiny)
        start = time.perf_counter()
        _run(
            [
                sys.executable,
                str(ROOT / "stages" / "prepare.py"),
                "--params",
                str(params),
                "--raw",
                str(folder / "raw"),
                "--index",
                str(folder / "index"),
            ],
            folder,
            "prepare",
        )
        prepare_s = time.perf_counter() - start
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=1",
            str(ROOT / "stages" / "train.py"),
            "--params",
            str(params),
            "--model",
            case.name,
            "--index",
            str(folder / "index"),
            "--out",
            str(folder / "model"),
            "--checkpoints",
            str(folder / "ckpt"),
            "--device",
            device.type,
            "--no-progress",
        ]
        start = time.perf_counter()
        killed_at = _kill_after_checkpoint(command, folder, folder / "ckpt" / "last.pt")
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        resumed = _run(command, folder, "torchrun train stage (resumed)")
        resume_s = time.perf_counter() - start
        ddp_line = next((line for line in resumed.splitlines() if line.startswith("DDP over")), "")
        summary = json.loads((folder / "model" / "summary.json").read_text())
        return {
            "model": case.name,
            "killed_after_epoch": killed_at,
            "resumed": "resuming from" in resumed,
            "ddp": ddp_line,
            "nccl": "nccl" in ddp_line,
            "sync_batchnorm": ddp_line.endswith("SyncBatchNorm"),
            "finished": (folder / "model" / "model.pt").is_file(),
            "epochs": len(summary["history"]),
            "final_val_mAP": round(summary["final_val_mAP"], 4),
            "prepare_s": round(prepare_s, 1),
            "until_kill_s": round(first_s, 1),
            "resume_s": round(resume_s, 1),
        }


def _run(command: list, cwd: Path, what: str) -> str:
    """Run to completion; its stderr on success, a one-line failure naming ``what`` otherwise."""
    done = subprocess.run(command, cwd=cwd, env=stage_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"gpu.py: the {what} failed with status {done.returncode} ({_last_line(done.stderr)})")
    return done.stderr


def _kill_after_checkpoint(command: list, cwd: Path, checkpoint: Path, timeout: float = 600) -> int:
    """Start ``command``; SIGKILL it and every descendant once ``checkpoint`` exists (torchrun starts
    its workers in their own sessions, so a process-group kill would miss them).

    Returns the epoch the checkpoint holds (the run was killed after it; it is written atomically)."""
    log = cwd / "first-run.log"
    with log.open("w") as err:
        proc = subprocess.Popen(command, cwd=cwd, env=stage_env(), stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is not None:
            raise SystemExit(
                f"gpu.py: the torchrun train stage ended before its first checkpoint ({_last_line(log.read_text())})"
            )
        tree = [*psutil.Process(proc.pid).children(recursive=True), psutil.Process(proc.pid)]
        for process in tree:
            process.send_signal(signal.SIGKILL)
        psutil.wait_procs(tree, timeout=30)
    return int(load_checkpoint(checkpoint)["state"]["epoch"])


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"


def check_compiled_extraction(cases: list[Case], device: torch.device, batches: int, clock: Clock) -> dict:
    """Section 3: compiled against eager embeddings on random batches at each extraction size."""
    rows = {}
    for case in cases:
        key = f"{case.name}@{case.extract.height}x{case.extract.width}"
        if not clock.left():
            rows[key] = {"skipped_for_time": True}
            continue
        torch.manual_seed(0)
        model = create_model(case.cfg, 0).eval().to(device)
        layout = train_layout(model)
        model = model.to(memory_format=layout)
        # made under inference_mode, as the extract stage's batches are on CUDA (copied to the device there):
        # an ordinary batch and its inference-mode mirror differ in dispatch keys, and dynamo compiles each
        with torch.inference_mode():
            x = torch.randn(case.extract.batch_size, 3, case.extract.height, case.extract.width, device=device)
            x = to_float((x * 40 + 120).clamp(0, 255).to(torch.uint8), IMAGENET_MEAN, IMAGENET_STD).contiguous(
                memory_format=layout
            )
        eager, eager_s = _embed_timed(model, x, case.extract, device, batches)
        start = time.perf_counter()
        compiled_model = compile_embedder(model)
        _embed_timed(compiled_model, x, case.extract, device, 1)
        compile_s = time.perf_counter() - start
        compiled, compiled_s = _embed_timed(compiled_model, x, case.extract, device, batches)
        n = len(x)
        rows[key] = {
            "max_abs_diff": float((compiled - eager).abs().max()),
            "eager_img_s": round(n / eager_s, 1),
            "compiled_img_s": round(n / compiled_s, 1),
            "speedup": round(eager_s / compiled_s, 2),
            "compile_s": round(compile_s, 1),
            "batch": n,
        }
        print(
            f"  {key:<24}{rows[key]['max_abs_diff']:>12.2e}{n / eager_s:>10.1f}{n / compiled_s:>12.1f}"
            f"{eager_s / compiled_s:>8.2f}x{compile_s:>10.1f}",
            flush=True,
        )
    return rows


def _embed_timed(
    model, x: torch.Tensor, cfg: ExtractConfig, device: torch.device, batches: int
) -> tuple[torch.Tensor, float]:
    """The extraction forward (flip TTA, L2) ``batches`` times after one warm-up: (embeddings, s/batch)."""
    amp = (
        torch.autocast("cuda", dtype=AMP_DTYPES[cfg.amp])
        if device.type == "cuda" and cfg.amp != "none"
        else contextlib.nullcontext()
    )
    with torch.inference_mode(), amp:
        out = embed_batch(model, x, flip=cfg.flip, normalize=cfg.normalize).cpu()
        start = time.perf_counter()
        for _ in range(batches):
            out = embed_batch(model, x, flip=cfg.flip, normalize=cfg.normalize).cpu()
    return out, (time.perf_counter() - start) / max(batches, 1)


def check_input_pipeline(images: int, epochs: int) -> dict:
    """Section 4: our training loader at 256x128 with one worker per core, uint8 batches normalised."""
    workers = os.cpu_count() or 1
    train = TrainConfig(workers=workers, ids_per_batch=16, images_per_id=4, ids_per_action=4)
    with tempfile.TemporaryDirectory() as tmp:
        paths, labels, actions = write_crops(Path(tmp), images, seed=0)
        loader = make_train_loader(
            paths, labels, actions, *PIPELINE_SIZE, ModelConfig(arch="osnet_ain").augment, train, seed=0
        )
        count, start = 0, None
        for epoch in range(epochs):
            loader.batch_sampler.set_epoch(epoch)
            for x, _ in loader:
                to_float(x, IMAGENET_MEAN, IMAGENET_STD)
                if start is None:
                    start = time.perf_counter()  # worker start-up excluded
                    continue
                count += len(x)
        rate = count / (time.perf_counter() - start)
    return {"img_s": round(rate, 1), "workers": workers, "size": list(PIPELINE_SIZE), "images": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true", help="tiny models and sizes (the CPU test)")
    parser.add_argument("--steps", type=int, default=10, help="timed train steps per row")
    parser.add_argument("--budget-s", type=float, default=420.0, help="start no new row after this many seconds")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "gpu.py: --device cuda but torch.cuda.is_available() is False (use --device cpu --tiny on a CPU box)"
        )
    warnings.filterwarnings("ignore")
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = device.type == "cuda"
    clock, cases = Clock(args.budget_s), preset_cases(args.tiny)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"gpu.py on {name}, torch {torch.__version__}, {'tiny' if args.tiny else 'soccernet preset'} sizes")
    print("1. train step        ours img/s  torchreid img/s   ratio  ours GB  anchor GB")
    steps = check_train_steps(cases, device, 2 if args.tiny else args.steps, clock)
    print("2. train stage under torchrun --nproc_per_node=1, SIGKILL after epoch 0, resume", flush=True)
    torchrun = check_torchrun(cases[0], device, args.tiny)
    print(f"  {torchrun}")
    print("3. extraction        max |diff|  eager img/s  compiled img/s  speedup  compile s")
    compiled = check_compiled_extraction(cases, device, 2 if args.tiny else 10, clock)
    pipeline = check_input_pipeline(200 if args.tiny else 3000, 2 if args.tiny else 8)
    fastest = max(
        (r["ours_img_s"] for k, r in steps.items() if k.endswith("@256x128") and "ours_img_s" in r), default=None
    )
    pipeline["feeds_gpu"] = None if fastest is None else pipeline["img_s"] > fastest
    print(
        f"4. input pipeline at 256x128, {pipeline['workers']} workers: {pipeline['img_s']:.0f} img/s "
        f"(fastest training at 256x128: {fastest} img/s)"
    )
    osnet = next((r for k, r in steps.items() if k.startswith("osnet_ain@256x128") and "ratio" in r), None)
    figures = {
        "device": name,
        "torch": torch.__version__,
        "tiny": args.tiny,
        "train_steps": steps,
        "osnet_256x128_vs_torchreid": osnet and osnet["ratio"],
        "osnet_goal_met": bool(osnet and osnet["ratio"] >= 1.5),
        "torchrun": torchrun,
        "compiled_extraction": compiled,
        "input_pipeline": pipeline,
        "wall_s": round(clock.elapsed(), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
