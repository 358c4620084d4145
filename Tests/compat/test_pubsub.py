"""Publish/subscribe, compared frame by frame with redis-server 7.0.

Several raw connections per server (some RESP2, some RESP3) run the same generated sequence of
SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB, PING, RESET,
HELLO, MULTI/EXEC and ordinary commands. After every step each connection is drained up to a PING
barrier, so every message, confirmation and error each connection saw is compared.
"""
import os
import random

import pytest

from support.resp import Conn

CHANNELS = ["news", "news.sport", "news.tech", "chat", "x", "h\xe9llo", "a b"]
PATTERNS = ["news.*", "*", "n?ws*", "chat", "[nc]*", "h[^a]llo", "news.[st]*", "x\\*"]
SEEDS = int(os.environ.get("PUBSUB_SEEDS", "12"))
STEPS = int(os.environ.get("PUBSUB_STEPS", "150"))


@pytest.fixture
def servers(lunar_server, redis_server):
    opened = []

    def open_set(n):
        sets = []
        for port in (lunar_server.port, redis_server.port):
            conns = [Conn(port) for _ in range(n)]
            opened.extend(conns)
            sets.append(conns)
        return sets

    yield open_set
    for c in opened:
        c.close()


def barrier(conn):
    """Reads every frame up to the reply of a PING sent now; returns the frames before it."""
    conn.send_raw(Conn.encode(["PING", "__barrier__"]))
    frames = []
    while True:
        f = conn.read()
        # RESP2 subscribed: ["pong", msg]; otherwise the echoed bulk string.
        if f == ("bulk", b"__barrier__") or f == ("simple", b"QUEUED"):   # inside MULTI the PING is queued
            return frames
        if f[0] in ("array", "push") and len(f[1]) == 2 and f[1][0] == ("bulk", b"pong") and f[1][1] == ("bulk", b"__barrier__"):
            return frames
        frames.append(f)
        assert len(frames) < 10_000, "no barrier reply"


def normalize(frames):
    """Orders what Redis leaves to its hash tables: the channels of an UNSUBSCRIBE-all, the
    deliveries of one message to several matching patterns, and PUBSUB CHANNELS lists."""
    out = []
    i = 0
    while i < len(frames):
        f = frames[i]
        kind = f[1][0] if f[0] in ("array", "push") and len(f) > 1 and f[1] and f[1][0][0] == "bulk" else None
        word = kind[1] if kind else None
        if word in (b"unsubscribe", b"punsubscribe", b"sunsubscribe", b"pmessage"):
            j = i
            while j < len(frames) and frames[j][0] == f[0] and len(frames[j]) > 1 and frames[j][1] and frames[j][1][0] == kind:
                j += 1
            run = frames[i:j]
            if word == b"pmessage":
                out.extend(sorted(run, key=repr))
            else:
                names = sorted((r[1][1] for r in run), key=repr)
                out.extend((r[0], [r[1][0], n, r[1][2]]) for r, n in zip(run, names))
            i = j
            continue
        out.append(f)
        i += 1
    return out


def sort_array(frame):
    if frame[0] in ("array", "set"):
        return (frame[0], sorted(frame[1], key=repr))
    return frame


def step(rng):
    """One (command, unordered-reply) pair."""
    r = rng.random()
    chans = lambda k: rng.sample(CHANNELS, rng.randint(1, k))  # noqa: E731
    pats = lambda k: rng.sample(PATTERNS, rng.randint(1, k))  # noqa: E731
    if r < 0.16:
        return ["SUBSCRIBE"] + chans(3), False
    if r < 0.26:
        return ["PSUBSCRIBE"] + pats(3), False
    if r < 0.32:
        return ["SSUBSCRIBE"] + chans(2), False
    if r < 0.40:
        return ["UNSUBSCRIBE"] + (chans(2) if rng.random() < 0.6 else []), False
    if r < 0.46:
        return ["PUNSUBSCRIBE"] + (pats(2) if rng.random() < 0.6 else []), False
    if r < 0.50:
        return ["SUNSUBSCRIBE"] + (chans(2) if rng.random() < 0.6 else []), False
    if r < 0.66:
        return ["PUBLISH", rng.choice(CHANNELS + ["nobody", "news.tech.x"]), "m%d" % rng.randint(0, 99)], False
    if r < 0.70:
        return ["SPUBLISH", rng.choice(CHANNELS), "s%d" % rng.randint(0, 99)], False
    if r < 0.74:
        return ["PUBSUB", "CHANNELS"] + ([rng.choice(PATTERNS)] if rng.random() < 0.5 else []), True
    if r < 0.76:
        return ["PUBSUB", "SHARDCHANNELS"] + ([rng.choice(PATTERNS)] if rng.random() < 0.5 else []), True
    if r < 0.79:
        return ["PUBSUB", "NUMSUB"] + chans(3), False
    if r < 0.80:
        return ["PUBSUB", "SHARDNUMSUB"] + chans(2), False
    if r < 0.82:
        return ["PUBSUB", "NUMPAT"], False
    if r < 0.85:
        return ["PING"] + (["hi"] if rng.random() < 0.5 else []), False
    if r < 0.88:
        return rng.choice([["GET", "k"], ["SET", "k", "v"], ["ECHO", "e"], ["MULTI"], ["EXEC"], ["DISCARD"]]), False
    if r < 0.91:
        return ["HELLO", rng.choice(["2", "3"])], None   # the server description differs: shape only
    if r < 0.93:
        return ["RESET"], False
    if r < 0.95:
        return rng.choice([["PUBSUB"], ["PUBSUB", "NOPE"], ["PUBSUB", "NUMPAT", "x"], ["PUBSUB", "CHANNELS", "a", "b"],
                           ["SUBSCRIBE"], ["PUBLISH", "x"], ["PUBSUB", "HELP"]]), False
    return ["EVAL", "return redis.call('publish', KEYS[1], ARGV[1])", "1", rng.choice(CHANNELS), "lua"], False


def shape(frame):
    if frame[0] in ("array", "map", "push"):
        return (frame[0],)
    return frame


@pytest.mark.parametrize("seed", range(SEEDS))
def test_pubsub_differential(servers, seed):
    rng = random.Random(seed)
    lunar, redis = servers(3)
    log = []
    for n in range(STEPS):
        i = rng.randrange(3)
        cmd, unordered = step(rng)
        log.append((i, cmd))
        seen = []
        for conns in (lunar, redis):
            conns[i].send_raw(Conn.encode(cmd))
            reply = conns[i].read()
            if unordered:
                reply = sort_array(reply)
            if unordered is None:
                reply = shape(reply)
            # The sender's reply and what follows it (the rest of an UNSUBSCRIBE-all) normalize together.
            streams = [normalize(([reply] if j == i else []) + barrier(c)) for j, c in enumerate(conns)]
            seen.append(streams)
        assert seen[0] == seen[1], f"seed {seed} step {n} conn {i} {cmd}\nlunar {seen[0]}\nredis {seen[1]}\nlog tail {log[-8:]}"


def test_message_shapes_resp2_and_resp3(servers):
    (l_sub, l_sub3, l_pub), (r_sub, r_sub3, r_pub) = servers(3)
    for sub, sub3, pub in ((l_sub, l_sub3, l_pub), (r_sub, r_sub3, r_pub)):
        sub3.call("HELLO", "3")
    results = []
    for sub, sub3, pub in ((l_sub, l_sub3, l_pub), (r_sub, r_sub3, r_pub)):
        got = [sub.call("SUBSCRIBE", "c1", "c2"), sub.read(), sub.call("PSUBSCRIBE", "c*"),
               sub3.call("SUBSCRIBE", "c1"), sub3.call("SSUBSCRIBE", "s1"),
               pub.call("PUBLISH", "c1", "hello"), pub.call("SPUBLISH", "s1", "shard"),
               sub.read(), sub.read(), sub3.read(), sub3.read(),
               sub.call("GET", "x"), sub3.call("GET", "x"), sub.call("PING"), sub3.call("PING"),
               # A RESP3 client receives its own message, ahead of the PUBLISH reply.
               sub3.call("PUBLISH", "c1", "self"), sub3.read(),
               sub.read(), sub.read(), sub.call("UNSUBSCRIBE", "c1", "c2"), sub.read(), sub.call("PUNSUBSCRIBE"), sub.call("GET", "x"),
               pub.call("PUBSUB", "NUMSUB", "c1", "c2", "s1"), pub.call("PUBSUB", "SHARDNUMSUB", "s1"),
               pub.call("PUBSUB", "NUMPAT")]
        results.append(got)
    assert results[0] == results[1]
    assert results[0][5] == ("int", 3)
    assert results[0][11][0] == "err"


def test_client_list_and_info_show_subscriptions(r, servers):
    (sub, _, _), _ = servers(3)
    sub.call("SUBSCRIBE", "a", "b")
    sub.read()
    sub.call("PSUBSCRIBE", "p*")
    line = [l for l in r.client_list() if l["sub"] == "2"][0]
    assert line["psub"] == "1" and line["ssub"] == "0" and "P" in line["flags"]
    stats = r.info("stats")
    assert stats["pubsub_channels"] == 2 and stats["pubsub_patterns"] == 1 and stats["pubsubshard_channels"] == 0
    sub.close()
    for _ in range(100):
        if r.pubsub_numsub("a") == [(b"a", 0)]:
            break
        import time
        time.sleep(0.02)
    assert r.pubsub_numsub("a") == [(b"a", 0)]
    assert r.pubsub_numpat() == 0


def test_redis_py_pubsub_object(r):
    """redis-py's PubSub helper end to end: subscribe, pattern subscribe, get_message, unsubscribe."""
    p = r.pubsub()
    p.subscribe("ch")
    p.psubscribe("c*")
    assert p.get_message(timeout=2)["type"] == "subscribe"
    assert p.get_message(timeout=2)["type"] == "psubscribe"
    assert r.publish("ch", "hi") == 2
    got = [p.get_message(timeout=2) for _ in range(2)]
    assert sorted(m["type"] for m in got) == ["message", "pmessage"]
    assert all(m["data"] == b"hi" for m in got)
    p.unsubscribe()
    p.punsubscribe()
    p.close()
