"""The CPU thread budget and the train stage's plan line."""

import cv2
import torch

from soccerreid.config.models import ModelConfig, PhaseConfig, TrainConfig
from soccerreid.cpu import available_cores, thread_budget, use_cpu_threads
from soccerreid.data.index import read_index
from soccerreid.training.distributed import DistContext
from soccerreid.training.plan import describe_plan, plan_phases
from soccerreid.training.validate import select_val_actions


def test_budget_leaves_the_workers_their_cores():
    cores = available_cores()
    assert thread_budget(0, workers=0) == cores
    assert thread_budget(0, workers=1) == max(1, cores - 1)
    assert thread_budget(0, workers=cores + 3) == 1  # never zero threads
    assert thread_budget(0, workers=0, world_size=cores) == 1  # each rank its share
    assert thread_budget(3, workers=2) == 3  # an explicit count wins


def test_use_cpu_threads_sets_torch_and_cv2():
    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        use_cpu_threads(1)
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_plan_line_names_epochs_steps_sizes_data_and_threads(tiny_index):
    train, valid = read_index(tiny_index, "train"), read_index(tiny_index, "valid")
    phases = (
        PhaseConfig(epochs=1, height=64, width=32, train_fraction=0.5),
        PhaseConfig(epochs=2, height=96, width=48, init="best"),
    )
    cfg = ModelConfig(
        arch="osnet_ain", variant="x0_25", train=TrainConfig(phases=phases, ids_per_batch=4, images_per_id=2, workers=1)
    )
    planned = plan_phases(cfg, train)
    val_rows = select_val_actions(valid, 500, 0)
    line = describe_plan(cfg, planned, val_rows, DistContext(), threads=1)
    assert [len(p.identities) for p in planned] == [18, 36]  # half of the 6 actions, then all of them
    # an epoch reaches every image: an identity of n images fills ceil(n / K) of the batches' P slots
    steps = [-(-int(((p.rows["label"].value_counts() + 1) // 2).sum()) // 4) for p in planned]
    assert steps[1] > 36 // 4
    assert line.startswith(
        f"3 epochs in 2 phases: 1 epoch x {steps[0]} steps at 64x32 on 50% of train, "
        f"then 2 epochs x {steps[1]} steps at 96x48; "
    )
    queries = int((val_rows["role"] == "query").sum())
    assert f"batches of 8 images; validation after each epoch on {queries} queries ({len(val_rows)} crops)" in line
    assert line.endswith("1 CPU thread + 1 loader worker")
    single = ModelConfig(
        arch="osnet_ain",
        variant="x0_25",
        train=TrainConfig(phases=(PhaseConfig(epochs=6, height=128, width=64),), ids_per_batch=4, workers=2),
    )
    assert describe_plan(single, plan_phases(single, train), val_rows, DistContext(), threads=2).startswith(
        "6 epochs x 9 steps at 128x64;"
    )
