"""Partial FC: the sampled rows, their logits, and their update against torch's own optimisers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from soccerreid.config.models import ModelConfig, TrainConfig
from soccerreid.errors import ConfigError
from soccerreid.models import create_model
from soccerreid.training.builders import make_partial_classifier
from soccerreid.training.partial_fc import PartialClassifier, sample_rows

C, D = 40, 6
ADAMW = {"lr": 0.01, "weight_decay": 0.05, "betas": (0.9, 0.999), "eps": 1e-8}
SGD = {"lr": 0.05, "weight_decay": 5e-4, "momentum": 0.9}


def test_rows_hold_every_label_and_random_others_drawn_by_the_generator():
    labels = torch.tensor([3, 3, 17, 17, 39, 39])
    rows = sample_rows(labels, C, 10, torch.Generator().manual_seed(0))
    assert len(rows) == 10 and len(set(rows.tolist())) == 10
    assert torch.equal(rows, torch.sort(rows).values)
    assert {3, 17, 39} <= set(rows.tolist())
    assert torch.equal(rows[torch.searchsorted(rows, labels)], labels)
    again = sample_rows(labels, C, 10, torch.Generator().manual_seed(0))
    other = sample_rows(labels, C, 10, torch.Generator().manual_seed(1))
    assert torch.equal(rows, again) and not torch.equal(rows, other)


def test_rows_are_every_class_when_the_sample_covers_them_and_never_drop_a_label():
    assert torch.equal(sample_rows(torch.tensor([1, 2]), C, C, torch.Generator()), torch.arange(C))
    labels = torch.arange(12)
    assert torch.equal(sample_rows(labels, C, 8, torch.Generator()), labels)  # more labels than the sample


def test_logits_are_the_full_classifiers_at_the_sampled_rows():
    weight = torch.randn(C, D)
    classifier = PartialClassifier(weight, 12, seed=0)
    embedding, labels = torch.randn(4, D), torch.tensor([5, 5, 30, 30])
    logits, targets = classifier.logits(embedding, labels)
    full = embedding @ weight.t()
    assert logits.shape == (4, 12)
    torch.testing.assert_close(logits, full[:, classifier.rows])
    torch.testing.assert_close(logits.gather(1, targets[:, None]), full.gather(1, labels[:, None]))


def _run(classifier: PartialClassifier, schedule: list[list[int]], grads: list[torch.Tensor], group: dict) -> None:
    """Step ``classifier`` with fixed rows and gradients (C, D) per step."""
    for rows, grad in zip(schedule, grads):
        classifier.rows = torch.tensor(rows)
        classifier.sub = classifier.weight[classifier.rows].clone().requires_grad_()
        classifier.sub.grad = grad[classifier.rows].clone()
        classifier.step(group)


def _torch_oracle(start: torch.Tensor, row: int, schedule, grads, make) -> torch.Tensor:
    """Row ``row`` after torch's optimiser stepped it with its gradients of the steps it was sampled in."""
    param = torch.nn.Parameter(start[row].clone())
    optimizer = make([param])
    for rows, grad in zip(schedule, grads):
        if row in rows:
            param.grad = grad[row].clone()
            optimizer.step()
    return param.detach()


@pytest.mark.parametrize(
    ("name", "group", "make"),
    [
        ("adamw", ADAMW, lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8)),
        ("sgd", SGD, lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=5e-4, momentum=0.9, nesterov=True)),
    ],
)
def test_a_sampled_row_moves_as_torchs_optimiser_moves_it_and_others_stay(name, group, make):
    """Oracle: torch's AdamW / SGD (Nesterov) on one row, stepped only at the steps the row was
    sampled in (lazy bias correction); rows never sampled are bit-unchanged (no weight decay)."""
    gen = torch.Generator().manual_seed(0)
    start = torch.randn(C, D, generator=gen)
    schedule = [[0, 1, 2, 7], [1, 2, 9], [0, 2, 7, 9], [2, 3], [0, 9]]
    grads = [torch.randn(C, D, generator=gen) for _ in schedule]
    classifier = PartialClassifier(start.clone(), 4, seed=0, optimizer=name)
    _run(classifier, schedule, grads, group)
    for row in (0, 1, 2, 3, 7, 9):
        torch.testing.assert_close(
            classifier.weight[row], _torch_oracle(start, row, schedule, grads, make), rtol=1e-5, atol=1e-6
        )
    untouched = [r for r in range(C) if r not in {0, 1, 2, 3, 7, 9}]
    assert torch.equal(classifier.weight[untouched], start[untouched])
    assert classifier.row_steps[[0, 2, 5]].tolist() == [3, 4, 0]


def test_state_round_trip_resumes_the_same_draws_and_updates():
    gen = torch.Generator().manual_seed(0)
    embedding, labels = torch.randn(4, D, generator=gen), torch.tensor([1, 1, 2, 2])

    def step(classifier):
        logits, targets = classifier.logits(embedding, labels)
        F.cross_entropy(logits, targets).backward()
        classifier.step(ADAMW)

    straight = PartialClassifier(torch.randn(C, D, generator=gen), 8, seed=3)
    resumed = PartialClassifier(straight.weight.clone(), 8, seed=3)
    for _ in range(2):
        step(straight)
        step(resumed)
    saved, weight = resumed.state_dict(), resumed.weight.clone()
    resumed = PartialClassifier(weight, 8, seed=3)
    resumed.load_state_dict(saved)
    step(straight)
    step(resumed)
    assert torch.equal(straight.weight, resumed.weight)


def test_the_trainer_samples_only_under_the_class_count_and_freezes_the_weight_for_it():
    model = create_model(ModelConfig(arch="osnet_ain", variant="x0_25"), 30)
    assert make_partial_classifier(model, TrainConfig(sampled_classes=30), 0) is None
    assert model.classifier.weight.requires_grad
    classifier = make_partial_classifier(model, TrainConfig(sampled_classes=12), 0)
    assert classifier is not None and classifier.weight is model.classifier.weight
    assert not model.classifier.weight.requires_grad


def test_a_trainable_weight_or_an_unknown_optimiser_is_refused():
    with pytest.raises(ValueError, match="weight: expected a tensor that does not require grad"):
        PartialClassifier(torch.zeros(C, D, requires_grad=True), 8, seed=0)
    with pytest.raises(ValueError, match="optimizer: expected 'adamw' or 'sgd', got 'adam'"):
        PartialClassifier(torch.zeros(C, D), 8, seed=0, optimizer="adam")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sampled_classes": 4}, "sampled_classes: expected 0 or >= ids_per_batch (8), got 4"),
        ({"sampled_classes": 64, "ema": 0.99}, "sampled_classes: not with ema > 0"),
        ({"sampled_classes": 64, "amp": "fp16"}, "sampled_classes: not with amp: fp16"),
    ],
)
def test_sampled_classes_that_cannot_work_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**changes)
