"""The resume policy: which checkpoint continues, which is re-exported, which is deleted."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from soccerreid.config.models import PhaseConfig
from soccerreid.fingerprint import Fingerprint
from soccerreid.training.checkpoint import LAST, best_path, save_checkpoint
from soccerreid.training.distributed import DistContext
from soccerreid.training.plan import Phase
from soccerreid.training.resume import EXPORT, FRESH, RESUME, Decision, RunState, decide, is_finished, resume_run

FP = Fingerprint({"config": "a", "code:soccerreid/training/loop.py": "b"})
PHASES = [
    Phase(0, PhaseConfig(epochs=2, height=64, width=32), pd.DataFrame(), 36, frozenset()),
    Phase(1, PhaseConfig(epochs=3, height=64, width=32), pd.DataFrame(), 36, frozenset()),
]


def _saved(phase: int, epoch: int, fp: Fingerprint = FP) -> dict:
    return {"fingerprint": fp.value, "fingerprint_parts": fp.parts, "state": {"phase": phase, "epoch": epoch}}


def test_only_the_last_epoch_of_the_last_phase_is_finished():
    assert is_finished(_saved(1, 2), PHASES)
    assert not is_finished(_saved(0, 1), PHASES)  # end of the first phase: the second is still to run
    assert not is_finished(_saved(1, 1), PHASES)


def test_no_checkpoint_starts_fresh_silently(tmp_path):
    assert decide(None, FP, tmp_path, PHASES) == Decision(FRESH, "")


def test_another_fingerprint_starts_fresh_naming_the_changed_parts(tmp_path):
    older = Fingerprint({"config": "a", "code:soccerreid/training/loop.py": "old", "code:soccerreid/x.py": "c"})
    decision = decide(_saved(0, 0, older), FP, tmp_path, PHASES)
    assert decision.action == FRESH
    assert decision.message == (
        f"checkpoint {tmp_path / LAST} differs in code (soccerreid/training/loop.py, soccerreid/x.py): starting fresh"
    )


def test_an_unfinished_run_resumes_after_its_last_epoch(tmp_path):
    decision = decide(_saved(0, 1), FP, tmp_path, PHASES)
    assert decision == Decision(RESUME, f"resuming from {tmp_path / LAST}: phase 0, epoch 1")


def test_a_finished_run_is_exported_only_with_its_final_best_weights(tmp_path):
    missing = decide(_saved(1, 2), FP, tmp_path, PHASES)
    assert missing == Decision(
        FRESH, f"checkpoint {tmp_path / LAST} is of a finished run but best-phase1.pt is missing: starting fresh"
    )
    best_path(tmp_path, 1).write_bytes(b"weights")
    decision = decide(_saved(1, 2), FP, tmp_path, PHASES)
    assert decision.action == EXPORT
    assert decision.message.endswith(
        "is of a finished run with this fingerprint: exporting its best weights, no training"
    )


def test_starting_fresh_deletes_the_checkpoint_and_best_weights_only(tmp_path, capsys):
    other = Fingerprint({"config": "changed", "code:soccerreid/training/loop.py": "b"})
    save_checkpoint(tmp_path / LAST, _saved(0, 1, other))
    for phase in (0, 1):
        best_path(tmp_path, phase).write_bytes(b"weights")
    (tmp_path / "notes.txt").write_text("kept")
    model = torch.nn.Linear(2, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    resumed = resume_run(tmp_path, FP, model, DistContext(), PHASES)
    assert resumed == (RunState(), None, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert "differs in config: starting fresh" in capsys.readouterr().err


@pytest.mark.parametrize("rank, printed", [(0, True), (1, False)])
def test_only_the_main_rank_prints_the_decision(tmp_path, capsys, rank, printed):
    save_checkpoint(tmp_path / LAST, _saved(0, 1, Fingerprint({"config": "changed"})))
    resume_run(tmp_path, FP, torch.nn.Linear(2, 2), DistContext(rank=rank, world_size=2), PHASES)
    assert ("starting fresh" in capsys.readouterr().err) is printed
