"""The package version, in one place: ``soccerreid.__version__``, the packaging metadata and every model file's record."""

__version__ = "0.1.0"
