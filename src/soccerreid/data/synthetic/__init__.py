"""The embedded synthetic SoccerNet ReID dataset (``data.source: synthetic``, the default).

Identical to SoccerNet on disk (folders, file names, bbox_info JSON, four splits and a
label-free challenge split, and the released test and challenge labels at the task root), so
the same parser, index and the official scorer work on it unchanged. See docs/data.md.

Examples::

    from soccerreid.data.synthetic import generate_synthetic
    generate_synthetic(params.data.synthetic, "data/raw")
"""

from soccerreid.data.synthetic.generate import TASK_DIR, generate_synthetic, plan_dataset

__all__ = ["TASK_DIR", "generate_synthetic", "plan_dataset"]
