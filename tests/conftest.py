"""Shared pytest settings: where ../shared is, and markers for root/interop tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PIXGW_SHARED", REPO.parent / "shared"))
REFERENCE = SHARED / "reference"


def is_root() -> bool:
    return os.geteuid() == 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_root = pytest.mark.skip(reason="needs root (network namespaces)")
    for item in items:
        if "root" in item.keywords and not is_root():
            item.add_marker(skip_root)
