"""The fake servers of the resilience tests, alive across every process's restart."""

from tests.resilience.conftest import fakes  # noqa: F401 - the fixture, shared
