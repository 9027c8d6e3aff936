"""Fixtures for the adapter tests."""

from __future__ import annotations

import pytest
from fake_pruner import FakePruner


@pytest.fixture
def fake_pruner() -> FakePruner:
    return FakePruner()
