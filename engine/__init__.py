"""Descent's engine: data, models, training, probes, landscapes, sessions. No Qt here."""

__version__ = "0.1.0"
