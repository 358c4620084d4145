"""Runs every family's generated command sequence against Lunar and redis-server 7.0."""
import importlib
import os
import pkgutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

FAMILY_DIR = os.path.join(os.path.dirname(__file__), "families")
FAMILIES = sorted(m.name for m in pkgutil.iter_modules([FAMILY_DIR]))


@pytest.mark.parametrize("family", FAMILIES)
def test_family(family, lunar_server, redis_server):
    module = importlib.import_module(f"families.{family}")
    n = harness.run_family(module, lunar_server.port, redis_server.port)
    assert n > 0
    assert lunar_server.alive()
