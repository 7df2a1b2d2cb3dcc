"""Fixtures of the desktop agent's tests: the marking service (one per module) and an X display (one per test)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.xsession import XSession
from desktop_helpers import Service, need_display


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(tmp_path_factory.mktemp("agent-service"))
    yield running
    running.close()


@pytest.fixture()
def xsession() -> Iterator[XSession]:
    need_display()
    with XSession((1920, 1080)) as session:
        yield session
