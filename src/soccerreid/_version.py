"""The package version, in one place: ``soccerreid.__version__``, the packaging metadata and the
record of every model file."""

__version__ = "0.1.0"
