"""Shared fixtures. Results depend on the fixed seeds below; change them only with care."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest

import watermark
from synthetic import render_screen

KEY_SEED = bytes(range(32))  # fixed key: results below depend on it


@pytest.fixture(scope="session")
def key() -> watermark.Key:
    return watermark.Key(KEY_SEED)


@pytest.fixture(scope="session")
def other_key() -> watermark.Key:
    return watermark.Key(bytes(range(100, 132)))


@pytest.fixture(scope="session")
def payload() -> watermark.Payload:
    return watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))


@pytest.fixture(scope="session")
def screen() -> np.ndarray:
    return render_screen("labs_chart", size=(1366, 768), seed=3)


@pytest.fixture(scope="session")
def marked(screen, payload, key) -> np.ndarray:
    return watermark.embed(screen, payload, key)
