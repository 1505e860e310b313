"""soccerreid: soccer player re-identification on SoccerNet ReID v3 as a cached DVC DAG."""

__version__ = "0.1.0"
