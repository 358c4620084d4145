"""Keyspace notifications, compared: every family's generated commands run against Lunar and
redis-server 7.0 with notify-keyspace-events set to every class, and a subscriber on each server
must receive the same events, in the same order, as the commands' replies match.

After each pipelined chunk, the subscriber sends PING and reads up to its pong: every event the
chunk fired was written to the subscriber before the pong. `expired` events are left out of the
comparison: when a key's deadline passes depends on how far apart the two runs are. A chunk with
a SORT is compared as a multiset of events: SORT of a set or sorted set looks up its BY and GET
keys (key-miss events) in hash-table order, which differs from run to run on Redis itself; when
the SORT's reply is not compared exactly (ties in a set's order), which elements fall in its LIMIT,
and so which GET keys it looks up, differs too, and that chunk's key-miss events are left out.
"""
import importlib
import os
import pkgutil
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from support.resp import Conn  # noqa: E402

FAMILY_DIR = os.path.join(os.path.dirname(__file__), "families")
# `server` sets configuration (it would switch the notifications off).
FAMILIES = sorted(m.name for m in pkgutil.iter_modules([FAMILY_DIR]) if m.name != "server")
CLASSES = "KEA" + "nm"   # every class, new-key and key-miss events included
PONG = ("array", [("bulk", b"pong"), ("bulk", b"")])
UNCOMPARED_EVENTS = {b"expired"}


def is_keymiss(event):
    channel, payload = event
    return channel.endswith(b"__:keymiss") or (channel.startswith(b"__keyspace@") and payload == b"keymiss")


class Subscriber:
    def __init__(self, port):
        self.conn = Conn(port)
        reply = self.conn.call("PSUBSCRIBE", "__key*__:*")
        assert reply[0] == "array" and reply[1][0] == ("bulk", b"psubscribe"), reply

    def drain(self):
        """The events received since the last drain: (channel, payload) pairs."""
        self.conn.send_raw(Conn.encode(["PING"]))
        events = []
        while True:
            m = self.conn.read()
            if m == PONG:
                return events
            assert m[0] == "array" and m[1][0] == ("bulk", b"pmessage"), m
            channel, payload = m[1][2][1], m[1][3][1]
            if channel.startswith(b"__keyevent@") and channel.split(b":", 1)[1] in UNCOMPARED_EVENTS:
                continue
            if channel.startswith(b"__keyspace@") and payload in UNCOMPARED_EVENTS:
                continue
            events.append((channel, payload))

    def close(self):
        self.conn.close()


def run_with_events(module, lunar_port, redis_port, seed, count, batch=64):
    import random
    rng = random.Random(f"{seed}-{module.__name__}-events")
    lunar, ref = Conn(lunar_port), Conn(redis_port)
    for c in (lunar, ref):
        c.call("FLUSHALL")
        c.call("SELECT", "0")
        assert c.call("CONFIG", "SET", "notify-keyspace-events", CLASSES) == ("simple", b"OK")
    subs = (Subscriber(lunar_port), Subscriber(redis_port))
    history = []
    compared = 0

    def compare(chunk):
        nonlocal compared
        a, b = subs[0].drain(), subs[1].drain()
        sorts = [c for c in chunk if c.args[0].upper() in ("SORT", "SORT_RO")]
        if sorts:
            a, b = sorted(a), sorted(b)
            if any(c.mode != "exact" for c in sorts):
                a, b = [e for e in a if not is_keymiss(e)], [e for e in b if not is_keymiss(e)]
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            cmds = "\n".join(f"  {c!r}" for c in chunk)
            raise AssertionError(
                f"keyspace events differ at event {first}:\n  lunar: {a[max(0, first - 3):first + 4]!r}\n"
                f"  redis: {b[max(0, first - 3):first + 4]!r}\n"
                f"  ({len(a)} events on Lunar, {len(b)} on Redis)\nthe chunk's commands:\n{cmds}")
        compared += len(a)

    gen = module.generate(rng)
    done = 0
    try:
        while done < count:
            chunk = []
            while len(chunk) < batch and done < count:
                cmd = next(gen)
                done += 1
                if cmd.args[0] == "__sleep__" or cmd.resync:
                    if chunk:
                        harness._run_chunk(chunk, lunar, ref, history)
                        compare(chunk)
                        chunk = []
                    if cmd.args[0] == "__sleep__":
                        time.sleep(int(cmd.args[1]) / 1000)
                        history.append(cmd)
                    else:
                        harness._run_chunk([cmd], lunar, ref, history)
                        compare([cmd])
                        for k in cmd.resync:
                            harness.copy_key(lunar, ref, k)
                        # The copy's own reads and writes fire events on one side only.
                        subs[0].drain()
                        subs[1].drain()
                    continue
                chunk.append(cmd)
            if chunk:
                harness._run_chunk(chunk, lunar, ref, history)
                compare(chunk)
    finally:
        for c in (lunar, ref):
            c.call("CONFIG", "SET", "notify-keyspace-events", "")
            c.close()
        for s in subs:
            s.close()
    return compared


@pytest.mark.parametrize("family", FAMILIES)
def test_family_events(family, lunar_server, redis_server):
    module = importlib.import_module(f"families.{family}")
    seed = int(os.environ.get("DIFF_SEED", "20261125"))
    count = int(os.environ.get("DIFF_COMMANDS", "3000"))
    events = run_with_events(module, lunar_server.port, redis_server.port, seed, count)
    assert events > 0
    assert lunar_server.alive()
