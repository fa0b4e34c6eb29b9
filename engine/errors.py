"""What the engine refuses, as exceptions whose message is safe to show a person."""

from __future__ import annotations


class EngineError(Exception):
    """A request the engine refuses; the message is safe to show."""


class RunNotFound(EngineError):
    pass


class NotOwner(EngineError):
    pass


class StaleInteraction(EngineError):
    """An answer to anything but the pending interaction: never applied."""


class RunNotActive(EngineError):
    pass


class WorkflowChanged(EngineError):
    """The run's events no longer fit its workflow (edited incompatibly since it started)."""


class InvalidResponse(Exception):
    """An answer that does not fit the pending question; nothing is applied."""
