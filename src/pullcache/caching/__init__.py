"""Sharing work between concurrent callers in one process: one call in flight per key, and values kept a while."""
