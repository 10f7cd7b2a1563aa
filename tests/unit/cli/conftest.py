"""CLI tests run in a temporary directory with no INFERSIGHT_* variables of the caller's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.upper().startswith("INFERSIGHT_"):
            monkeypatch.delenv(name)
