"""The report: Table 1 (``results.md``) and figures 2 to 5 plus training curves, from a run's own metrics."""
