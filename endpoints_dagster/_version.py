"""The package version, in a module of its own so that the client can name itself without importing the package."""

__version__ = "0.1.0"
