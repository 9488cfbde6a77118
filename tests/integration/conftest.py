"""The local stack's fixtures live in tests/conftest.py (the browser tests use them too); the helpers are
importable from here as before."""

from tests.conftest import TestProject, wait_for

__all__ = ["TestProject", "wait_for"]
