"""client-output-buffer-limit, on Lunar and on redis-server 7.0 with the same expectations.

A subscriber that stops reading must not make the server hold an unbounded backlog: past the pubsub
class's hard limit (or over its soft limit for longer than its seconds) the server drops the client.
The subscriber's socket gets a small receive buffer so that the kernel does not absorb the flood;
the server side still has its own socket buffer, so the floods are several times the limits. Every
flood is bounded in messages and time. CONFIG SET's parsing and merging are compared reply for reply.
"""
import socket
import time

import pytest
import redis

from support.resp import Conn
from support.servers import start_lunar, start_redis

KINDS = ["redis", "lunar"]
MESSAGE = b"m" * 10_000
MAX_MESSAGES = 6000
MAX_SECONDS = 20.0


@pytest.fixture
def server(request):
    s = (start_redis if request.param == "redis" else start_lunar)()
    yield s
    s.stop()


def silent_subscriber(port, channel):
    """A subscriber with a tiny receive buffer that reads its confirmation and then nothing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel))
    got = b""
    while got.count(b"\r\n") < 6:
        got += s.recv(4096)
    return s


def flood_until_dropped(r, channel):
    """PUBLISH until no subscriber receives it; returns how many messages were published."""
    deadline = time.time() + MAX_SECONDS
    for i in range(MAX_MESSAGES):
        if r.publish(channel, MESSAGE) == 0:
            return i
        if time.time() > deadline:
            break
    return None


@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_config_set_parses_and_merges_like_redis(server):
    c = Conn(server.port)
    try:
        replies = [c.call("CONFIG", "GET", "client-output-buffer-limit")]
        for v in ["pubsub 1mb 512kb", "pubsub 1xb 512kb 5", "pubsub 1mb 512kb -5", "replica 10mb 5mb 30",
                  "normal 1k 0 0 pubsub 0 0 0", "", "PUBSUB 2MB 1MB 10", "bogus 1 2 3", "master 1 2 3"]:
            replies.append((v, c.call("CONFIG", "SET", "client-output-buffer-limit", v),
                            c.call("CONFIG", "GET", "client-output-buffer-limit")))
        assert replies[0] == ("array", [("bulk", b"client-output-buffer-limit"),
                                        ("bulk", b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")])
        by_value = {v: (res, got[1][1][1]) for v, res, got in replies[1:]}
        bad_count = b"ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Wrong number of arguments in buffer limit configuration."
        bad_value = b"ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Error in hard, soft or soft_seconds setting in buffer limit configuration."
        bad_class = b"ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."
        assert by_value["pubsub 1mb 512kb"][0] == ("err", bad_count)
        assert by_value["pubsub 1xb 512kb 5"][0] == ("err", bad_value)
        assert by_value["pubsub 1mb 512kb -5"][0] == ("err", bad_value)
        assert by_value["bogus 1 2 3"][0] == ("err", bad_class)
        assert by_value["master 1 2 3"][0] == ("err", bad_class)
        assert by_value["replica 10mb 5mb 30"][1] == b"normal 0 0 0 slave 10485760 5242880 30 pubsub 33554432 8388608 60"
        assert by_value["normal 1k 0 0 pubsub 0 0 0"][1] == b"normal 1000 0 0 slave 10485760 5242880 30 pubsub 0 0 0"
        assert by_value[""][1] == b"normal 1000 0 0 slave 10485760 5242880 30 pubsub 0 0 0"
        assert by_value["PUBSUB 2MB 1MB 10"][1] == b"normal 1000 0 0 slave 10485760 5242880 30 pubsub 2097152 1048576 10"
        assert by_value["bogus 1 2 3"][1] == by_value["PUBSUB 2MB 1MB 10"][1]
    finally:
        c.close()


@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_subscriber_that_stops_reading_is_dropped_at_the_hard_limit(server):
    r = redis.Redis(port=server.port, socket_timeout=10)
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    sub = silent_subscriber(server.port, b"news")
    try:
        assert r.publish("news", b"hello") == 1
        published = flood_until_dropped(r, "news")
        assert published is not None, "the silent subscriber was never dropped"
        # Far less than the whole flood was kept for it: the limit plus the sockets' buffers.
        assert published < 1500
        assert r.pubsub_numsub("news") == [(b"news", 0)]
        assert r.ping() is True
    finally:
        sub.close()
        r.close()


@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_soft_limit_drops_after_its_seconds_and_readers_stay(server):
    r = redis.Redis(port=server.port, socket_timeout=10)
    r.config_set("client-output-buffer-limit", "pubsub 0 256kb 1")
    reader = r.pubsub()
    reader.subscribe("soft")
    reader.get_message(timeout=2)
    sub = silent_subscriber(server.port, b"soft")
    try:
        start = time.time()
        deadline = start + MAX_SECONDS
        received = 0
        dropped_after = None
        while time.time() < deadline:
            n = r.publish("soft", MESSAGE)
            while reader.get_message(timeout=0) is not None:
                received += 1
            if n == 1:
                dropped_after = time.time() - start
                break
            time.sleep(0.002)
        assert dropped_after is not None, "the silent subscriber was never dropped"
        # Not at once: only after it stayed over the soft limit for more than a second.
        assert dropped_after >= 1.0
        # The subscriber that reads is still there and got the messages.
        assert r.publish("soft", b"still") == 1
        got = None
        for _ in range(200):
            m = reader.get_message(timeout=0.05)
            if m and m["data"] == b"still":
                got = m
                break
        assert got is not None and received > 0
    finally:
        sub.close()
        reader.close()
        r.close()


@pytest.mark.parametrize("server", KINDS, indirect=True)
def test_without_limits_a_slow_subscriber_is_kept(server):
    r = redis.Redis(port=server.port, socket_timeout=10)
    r.config_set("client-output-buffer-limit", "pubsub 0 0 0")
    sub = silent_subscriber(server.port, b"free")
    try:
        for _ in range(300):
            assert r.publish("free", MESSAGE) == 1
    finally:
        sub.close()
        r.close()
