"""Training-step throughput per model on CPU (fp32), against torchreid's own training step.

Ours: :func:`soccerreid.training.trainer.train_step` on a registry model (BNNeck head, CE with
label smoothing + batch-hard triplet, AdamW, gradient clipping). Anchor, for the archs torchreid
has: the same network built by ``torchreid.models.build_model(loss="triplet")`` trained with
torchreid's ``CrossEntropyLoss`` + ``TripletLoss`` and Adam, on the same inputs. One PK batch
(P=8 identities x K=4) of random images per step; the first steps are warm-up and not timed.

    python benchmarks/train_step.py --steps 5

Prints a table (ms/step, images/s, ratio to the torchreid step) and ends with one JSON line
``{"images_per_s": {model: ...}, "ms_per_step": {...}, "vs_torchreid": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import torch

from soccerreid.config.models import LoraConfig, ModelConfig, TrainConfig
from soccerreid.models import create_model
from soccerreid.training.losses import ReidLoss
from soccerreid.training.optim import make_optimizer, make_scheduler
from soccerreid.training.trainer import TrainNet, train_step

# name -> (config, height, width, torchreid name or None)
MODELS = {
    "osnet_ain_x0_25": (ModelConfig(arch="osnet_ain", variant="x0_25"), 128, 64, "osnet_ain_x0_25"),
    "osnet_ain_x1_0": (ModelConfig(arch="osnet_ain", variant="x1_0"), 256, 128, "osnet_ain_x1_0"),
    "resnet50_ibn_a": (ModelConfig(arch="resnet50_ibn", variant="a"), 128, 64, "resnet50_ibn_a"),
    "dinov2_small_lora": (ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig()), 112, 56, None),
}
IDS, PER_ID, CLASSES = 8, 4, 500


def batch(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(IDS * PER_ID, 3, height, width, generator=gen)
    return x, torch.arange(IDS).repeat_interleave(PER_ID)


def time_steps(step, steps: int, warmup: int = 2) -> float:
    """Seconds per call of ``step()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def ours(cfg: ModelConfig, height: int, width: int, steps: int) -> float:
    torch.manual_seed(0)
    train = TrainConfig()
    model = create_model(cfg, CLASSES)
    net = TrainNet(model, ReidLoss(CLASSES, model.embed_dim)).train()
    opt = make_optimizer(net.parameters(), train)
    sched = make_scheduler(opt, train, epochs=1, steps_per_epoch=steps + 2)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    x, y = batch(height, width)
    return time_steps(lambda: train_step(net, x, y, opt, sched, scaler, train.grad_clip), steps)


def torchreid_step(name: str, height: int, width: int, steps: int) -> float:
    import torchreid
    from torchreid.reid.losses import CrossEntropyLoss, TripletLoss

    torch.manual_seed(0)
    net = torchreid.models.build_model(name, num_classes=CLASSES, loss="triplet", pretrained=False).train()
    ce, tri = CrossEntropyLoss(CLASSES, use_gpu=False, label_smooth=True), TripletLoss(margin=0.3)
    opt = torch.optim.Adam(net.parameters(), lr=3.5e-4, weight_decay=5e-4)
    x, y = batch(height, width)

    def step() -> None:
        logits, feats = net(x)
        loss = ce(logits, y) + tri(feats, y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_steps(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    n = IDS * PER_ID
    print(f"train step, batch {n} (P={IDS} x K={PER_ID}), CPU fp32, torch threads {torch.get_num_threads()}")
    print(f"{'model':<20}{'input':>9}{'ms/step':>10}{'img/s':>8}{'torchreid ms':>14}{'ours vs torchreid':>19}")
    figures = {"images_per_s": {}, "ms_per_step": {}, "vs_torchreid": {}}
    for name in args.models:
        cfg, h, w, anchor_name = MODELS[name]
        sec = ours(cfg, h, w, args.steps)
        anchor = torchreid_step(anchor_name, h, w, args.steps) if anchor_name else None
        ratio = f"{anchor / sec:.2f}x" if anchor else "-"
        anchor_ms = f"{1000 * anchor:.0f}" if anchor else "-"
        print(f"{name:<20}{f'{h}x{w}':>9}{1000 * sec:>10.0f}{n / sec:>8.1f}{anchor_ms:>14}{ratio:>19}")
        figures["images_per_s"][name] = round(n / sec, 1)
        figures["ms_per_step"][name] = round(1000 * sec, 1)
        if anchor:
            figures["vs_torchreid"][name] = round(anchor / sec, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
