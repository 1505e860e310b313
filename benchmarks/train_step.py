"""Training-step throughput per model on CPU (fp32), against torchreid's own training step.

Ours: :func:`soccerreid.training.step.train_step` on a registry model (BNNeck head, CE with
label smoothing + batch-hard triplet, AdamW, gradient clipping), in the trainer's memory layout.
Anchor, for the archs torchreid has: the same network built by
``torchreid.models.build_model(loss="triplet")`` trained by torchreid's own
``ImageTripletEngine.forward_backward`` (its CE + triplet, Adam), on the same inputs.
``benchmarks/gpu.py`` reuses these step builders on CUDA. One PK batch
(P=8 identities x K=4) of random images per step; the first steps are warm-up and not timed.
``--classes`` sets the identity classifier's width (the train set's identity count), several
values to see how a step's cost grows with it: the BoT head's full-softmax CE (ours and
torchreid's) costs O(identities x feature dim) per step, in the matmul and in the optimizer.
``--sampled-classes K`` trains ours with Partial FC instead (``train.sampled_classes``: K
classes scored and updated per step), whose cost stops growing once the identities exceed K.

    python benchmarks/train_step.py --steps 5
    python benchmarks/train_step.py --models resnet50_ibn_a --classes 778 7616 69000
    python benchmarks/train_step.py --models resnet50_ibn_a --classes 778 7616 69000 --sampled-classes 4096

Prints a table (ms/step, images/s, ratio to the torchreid step) and ends with one JSON line
``{"images_per_s": {"<model>@<classes>": ...}, "ms_per_step": {...}, "vs_torchreid": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from types import SimpleNamespace

import torch
from torch import nn

from soccerreid.config.models import LoraConfig, ModelConfig, TrainConfig
from soccerreid.models import create_model
from soccerreid.training.builders import make_partial_classifier, train_layout
from soccerreid.training.losses import ReidLoss
from soccerreid.training.optim import make_optimizer, make_scheduler
from soccerreid.training.step import Optimisation, TrainNet, train_step

# name -> (config, height, width, torchreid name or None)
MODELS = {
    "osnet_ain_x0_25": (ModelConfig(arch="osnet_ain", variant="x0_25"), 128, 64, "osnet_ain_x0_25"),
    "osnet_ain_x1_0": (ModelConfig(arch="osnet_ain", variant="x1_0"), 256, 128, "osnet_ain_x1_0"),
    "resnet50_ibn_a": (ModelConfig(arch="resnet50_ibn", variant="a"), 128, 64, "resnet50_ibn_a"),
    "dinov2_small_lora": (ModelConfig(arch="dinov2_lora", variant="small", lora=LoraConfig()), 112, 56, None),
}
IDS, PER_ID, CLASSES = 8, 4, 500


def batch(
    height: int, width: int, ids: int = IDS, per_id: int = PER_ID, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """A PK batch of random images (ids * per_id, 3, height, width) float32 and its labels (B,) int64."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(ids * per_id, 3, height, width, generator=gen)
    return x.to(device), torch.arange(ids).repeat_interleave(per_id).to(device)


def time_steps(step, steps: int, warmup: int = 2) -> float:
    """Seconds per call of ``step()`` after ``warmup`` untimed calls (each step ends in a host sync)."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def make_ours_step(
    cfg: ModelConfig,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int,
    amp: str = "none",
    classes: int = CLASSES,
    sampled: int = 0,
):
    """Our trainer's step on ``x`` (B, 3, H, W), ``y`` (B,): registry model in the trainer's memory
    layout (channels_last for CNNs), BNNeck, CE over ``classes`` identities (Partial FC over
    ``sampled`` of them when 0 < ``sampled`` < ``classes``) + triplet, AdamW, clipping; ``amp``
    autocast on CUDA."""
    torch.manual_seed(0)
    train = TrainConfig(amp=amp, sampled_classes=sampled)
    model = create_model(cfg, classes).to(x.device)
    layout = train_layout(model)
    classifier = make_partial_classifier(model, train, 0)
    net = TrainNet(model.to(memory_format=layout), ReidLoss(classes, model.embed_dim), classifier).to(x.device).train()
    opt = make_optimizer(net.parameters(), train)
    sched = make_scheduler(opt, train, epochs=1, steps_per_epoch=steps + 2)
    scaler = torch.amp.GradScaler("cuda", enabled=False)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp) if x.is_cuda else None
    optim = Optimisation(opt, sched, scaler, train.grad_clip, amp_dtype)
    x = x.contiguous(memory_format=layout)
    return lambda: train_step(net, x, y, optim, classifier)


class TorchreidShaped(nn.Module):
    """A registry backbone with a linear classifier, returning (logits, features) in train mode as
    torchreid's models do: the anchor for an arch torchreid does not have (DINOv2)."""

    def __init__(self, cfg: ModelConfig, classes: int = CLASSES) -> None:
        super().__init__()
        model = create_model(cfg, 0)
        self.backbone, self.classifier = model.backbone, nn.Linear(model.embed_dim, classes)

    def forward(self, x: torch.Tensor):
        features = self.backbone(x)
        return self.classifier(features), features


def make_torchreid_step(net: nn.Module, x: torch.Tensor, y: torch.Tensor, classes: int = CLASSES):
    """torchreid's own step: ``ImageTripletEngine.forward_backward`` (CE with label smoothing +
    triplet 0.3, fp32, torchreid's Adam via ``build_optimizer``) on ``net`` in train mode."""
    from torchreid.reid.engine import ImageTripletEngine
    from torchreid.reid.optim import build_optimizer

    torch.manual_seed(0)
    net = net.to(x.device).train()
    data = SimpleNamespace(train_loader=None, test_loader=None, num_train_pids=classes)
    engine = ImageTripletEngine(data, net, build_optimizer(net, optim="adam", lr=3.5e-4), use_gpu=x.is_cuda)
    return lambda: engine.forward_backward({"img": x, "pid": y})


def torchreid_net(name: str, classes: int = CLASSES) -> nn.Module:
    """torchreid's ``build_model(name, loss="triplet")``: (logits, features) in train mode."""
    import torchreid

    return torchreid.models.build_model(name, num_classes=classes, loss="triplet", pretrained=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--classes", type=int, nargs="+", default=[CLASSES], help="identity classes of the classifier")
    parser.add_argument(
        "--sampled-classes", type=int, default=0, help="ours with Partial FC over this many classes (0: full softmax)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    n = IDS * PER_ID
    print(f"train step, batch {n} (P={IDS} x K={PER_ID}), CPU fp32, torch threads {torch.get_num_threads()}")
    print(
        f"{'model':<20}{'input':>9}{'classes':>9}{'ms/step':>10}{'img/s':>8}"
        f"{'torchreid ms':>14}{'ours vs torchreid':>19}"
    )
    figures = {"images_per_s": {}, "ms_per_step": {}, "vs_torchreid": {}}
    for name in args.models:
        cfg, h, w, anchor_name = MODELS[name]
        x, y = batch(h, w)
        for classes in args.classes:
            sec = time_steps(
                make_ours_step(cfg, x, y, args.steps, classes=classes, sampled=args.sampled_classes), args.steps
            )
            anchor = None
            if anchor_name:
                anchor = time_steps(make_torchreid_step(torchreid_net(anchor_name, classes), x, y, classes), args.steps)
            ratio = f"{anchor / sec:.2f}x" if anchor else "-"
            anchor_ms = f"{1000 * anchor:.0f}" if anchor else "-"
            print(f"{name:<20}{f'{h}x{w}':>9}{classes:>9}{1000 * sec:>10.0f}{n / sec:>8.1f}{anchor_ms:>14}{ratio:>19}")
            key = f"{name}@{classes}"
            figures["images_per_s"][key] = round(n / sec, 1)
            figures["ms_per_step"][key] = round(1000 * sec, 1)
            if anchor:
                figures["vs_torchreid"][key] = round(anchor / sec, 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
