"""One-line user-facing errors.

Every error a user can cause (bad params, bad data, missing files) is raised as a subclass of
:class:`SoccerReidError` with a single-line message that names the file, key or value and says
what was expected. Stage entry points catch it and exit with that line, never a traceback.
"""


class SoccerReidError(Exception):
    """Base class for errors caused by user input; the message is one line."""


class ConfigError(SoccerReidError):
    """A params key is unknown, missing, of the wrong type or out of range."""


class DataError(SoccerReidError):
    """A data file or folder is missing, malformed or inconsistent."""


class WeightsError(SoccerReidError):
    """Pretrained weights cannot be found, fetched or loaded."""


class ExportError(SoccerReidError):
    """An exported model (ONNX, TorchScript) does not reproduce the torch model's features."""
