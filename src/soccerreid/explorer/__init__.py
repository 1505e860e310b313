"""The results explorer: a finished run's queries, per method and side by side.

- :mod:`.run`: what a run holds, per query and method (read from its artifacts, nothing retrained);
- :mod:`.static`: the report stage's ``reports/explorer/index.html`` (no server, works offline);
- :mod:`.app`: ``soccerreid explore``, the Gradio app (imports gradio; nothing else here does).
"""
