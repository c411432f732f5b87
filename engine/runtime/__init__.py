"""The running engine: ARI + AMI + the store, the live view, registrations, Stasis entry."""

from .engine import Engine

__all__ = ["Engine"]
