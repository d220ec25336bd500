"""Data sets: generation/loading, splitting and preprocessing."""

from engine.data.datasets import DataBundle, load_data

__all__ = ["DataBundle", "load_data"]
