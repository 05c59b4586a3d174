"""The package version, in a leaf module of its own so that any layer can read it without
importing the package (and with it the whole API)."""

__version__ = "0.1.0"
