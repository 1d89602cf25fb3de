"""lakerec: personalised marketing on a Delta lakehouse."""

__version__ = "0.1.0"
