import os
import sys

import pytest
import sys, os
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "differential"))

sys.path.insert(0, os.path.dirname(__file__))
from support.servers import start_lunar, start_redis  # noqa: E402


@pytest.fixture(scope="session")
def lunar_server():
    s = start_lunar()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def redis_server():
    s = start_redis()
    yield s
    s.stop()


@pytest.fixture
def r(lunar_server):
    """A redis-py client on a clean Lunar (FLUSHALL before each test)."""
    import redis
    c = redis.Redis(port=lunar_server.port, socket_timeout=10)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def rr(redis_server):
    """A redis-py client on a clean reference redis-server 7.0."""
    import redis
    c = redis.Redis(port=redis_server.port, socket_timeout=10)
    c.flushall()
    yield c
    c.close()
