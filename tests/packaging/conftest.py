"""Packaging and developer-experience tests: the htmx fetch, the vendor route, the wheel, the demo."""

from __future__ import annotations

from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: builds or starts whole programs (a wheel in a fresh virtualenv, the demo); runs in CI"
    )


@pytest.fixture
def checkout() -> Path:
    return CHECKOUT
