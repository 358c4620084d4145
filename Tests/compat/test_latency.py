"""Latency tracking against redis-server 7.0: the latency-tracking configs, INFO latencystats,
LATENCY HISTOGRAM (per-command cumulative histograms) and the latency monitor (LATENCY LATEST,
HISTORY, RESET, GRAPH, DOCTOR with latency-monitor-threshold). Durations differ between the servers,
so what is compared is what does not depend on them: names, counts, shapes, and the buckets of
durations long enough to be known (DEBUG SLEEP)."""
import re
import time

import pytest

from support.servers import connected_pair


@pytest.fixture
def pair():
    with connected_pair() as conns:
        yield conns


def both(pair, *args):
    return [c.call(*args) for c in pair]


def test_configs_match_redis(pair):
    for args in (["CONFIG", "GET", "latency-*"], ["CONFIG", "SET", "latency-tracking-info-percentiles", "50.0 99 99.99 100 0"],
                 ["CONFIG", "GET", "latency-tracking-info-percentiles"],
                 ["CONFIG", "SET", "latency-tracking-info-percentiles", "101"],
                 ["CONFIG", "SET", "latency-tracking-info-percentiles", "abc"],
                 ["CONFIG", "SET", "latency-tracking-info-percentiles", "-1"],
                 ["CONFIG", "SET", "latency-tracking-info-percentiles", "1e1 2.5"],
                 ["CONFIG", "GET", "latency-tracking-info-percentiles"],
                 ["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
                 ["CONFIG", "GET", "latency-tracking-info-percentiles"],
                 ["CONFIG", "SET", "latency-tracking", "maybe"], ["CONFIG", "SET", "latency-monitor-threshold", "-1"],
                 ["CONFIG", "SET", "latency-monitor-threshold", "x"]):
        x, y = both(pair, *args)
        if args[1] == "GET":
            x, y = sorted(x[1]), sorted(y[1])
        assert x == y, args


def latencystats(c):
    text = c.call("INFO", "latencystats")[1].decode()
    assert text.startswith("# Latencystats\r\n")
    out = {}
    for line in text.split("\r\n")[1:]:
        if not line:
            continue
        m = re.match(r"^latency_percentiles_usec_([a-z_|-]+):(.*)$", line)
        assert m, line
        fields = [f.split("=") for f in m.group(2).split(",")] if m.group(2) else []
        for label, value in fields:
            assert re.match(r"^\d+\.\d{3}$", value), line
        out[m.group(1)] = [(label, float(value)) for label, value in fields]
    return out


def test_info_latencystats_matches_redis(pair):
    for c in pair:
        c.call("CONFIG", "RESETSTAT")
        for i in range(20):
            c.call("SET", f"k{i}", "v")
        c.call("GET", "k1")
        c.call("DEBUG", "SLEEP", "0.02")
        c.call("CLIENT", "SETNAME", "x")
        c.call("MULTI")
        c.call("INCR", "n")
        c.call("EXEC")
    a, b = (latencystats(c) for c in pair)
    assert set(a) == set(b)
    assert {"set", "get", "debug", "client|setname", "incr", "exec", "multi", "config|resetstat"} <= set(a)
    for name in a:
        assert [l for l, _ in a[name]] == ["p50", "p99", "p99.9"] == [l for l, _ in b[name]]
    # 20 ms of DEBUG SLEEP (more on a loaded machine): every percentile reads at least that.
    for stats in (a, b):
        for _, v in stats["debug"]:
            assert 20_000 <= v < 40_000, stats["debug"]
    # Other percentiles and a turned-off tracking: the same labels, then the header alone.
    both(pair, "CONFIG", "SET", "latency-tracking-info-percentiles", "0 100 12.5")
    a, b = (latencystats(c) for c in pair)
    assert [l for l, _ in a["set"]] == [l for l, _ in b["set"]] == ["p0", "p100", "p12.5"]
    both(pair, "CONFIG", "SET", "latency-tracking-info-percentiles", "")
    a, b = (latencystats(c) for c in pair)
    assert a["set"] == b["set"] == []
    both(pair, "CONFIG", "SET", "latency-tracking", "no")
    assert [latencystats(c) for c in pair] == [{}, {}]
    # INFO all and everything hold the section, between Errorstats and Cluster.
    for c in pair:
        heads = re.findall(r"^# (\w+)", c.call("INFO", "everything")[1].decode(), re.M)
        assert heads[heads.index("Errorstats") + 1] == "Latencystats" and "Latencystats" not in re.findall(
            r"^# (\w+)", c.call("INFO")[1].decode(), re.M)


def histogram(c, *names):
    kind, entries = c.call("LATENCY", "HISTOGRAM", *names)
    assert kind == "array"   # RESP2 flattens the map
    out = {}
    for i in range(0, len(entries), 2):
        fields = entries[i + 1][1]
        assert fields[0] == ("bulk", b"calls") and fields[2] == ("bulk", b"histogram_usec")
        hist = fields[3][1]
        buckets = [(hist[j][1], hist[j + 1][1]) for j in range(0, len(hist), 2)]
        out[entries[i][1].decode()] = (fields[1][1], buckets)
    return out


def test_latency_histogram_matches_redis(pair):
    for c in pair:
        c.call("CONFIG", "RESETSTAT")
        for i in range(30):
            c.call("SET", f"k{i}", "v")
        c.call("DEBUG", "SLEEP", "0.01")
        c.call("DEBUG", "SLEEP", "0.02")
        c.call("CONFIG", "GET", "hz")
    a, b = (histogram(c, "set", "debug", "config", "nosuch", "client") for c in pair)
    assert set(a) == set(b) == {"set", "debug", "config|get", "config|resetstat"}   # subcommands: any order
    for h in (a, b):
        calls, buckets = h["set"]
        assert calls == 30 and buckets[-1][1] == 30
        assert [n for _, n in buckets] == sorted({n for _, n in buckets})   # cumulative, growing
        # 10 ms and 20 ms fall under 2^24 and 2^25 ns (16.8 and 33.5 ms: room for a slow sleep).
        assert h["debug"] == (2, [(16908, 1), (33816, 2)]), h["debug"]
    a, b = (histogram(c) for c in pair)
    assert set(a) == set(b) and "latency|histogram" in a
    both(pair, "CONFIG", "RESETSTAT")
    a, b = (histogram(c, "set") for c in pair)
    assert a == b == {}


def test_latency_monitor_matches_redis(pair):
    x, y = both(pair, "LATENCY", "LATEST")
    assert x == y == ("array", [])
    for args in (["LATENCY", "HISTORY", "command"], ["LATENCY", "RESET"], ["LATENCY", "GRAPH", "command"],
                 ["LATENCY", "NOSUCH"], ["LATENCY"], ["LATENCY", "HISTORY"]):
        x, y = both(pair, *args)
        assert x == y, args
    both(pair, "CONFIG", "SET", "latency-monitor-threshold", "5")
    for c in pair:
        c.call("DEBUG", "SLEEP", "0.05")
        c.call("DEBUG", "SLEEP", "0.02")
        c.call("SET", "quick", "1")
    latest = [c.call("LATENCY", "LATEST")[1] for c in pair]
    for entries in latest:
        assert [e[1][0][1] for e in entries] == [b"command"]
        _, stamp, last, high = (f[1] for f in entries[0][1])
        assert abs(stamp - time.time()) < 60 and 20 <= last <= high and 50 <= high < 200
    hist = [c.call("LATENCY", "HISTORY", "command")[1] for c in pair]
    for h in hist:
        assert 1 <= len(h) <= 2 and all(len(s[1]) == 2 for s in h)
    for c in pair:
        kind, text = c.call("LATENCY", "GRAPH", "command")
        assert kind in ("bulk", "verbatim") and text.startswith(b"command - high ")
        kind, text = c.call("LATENCY", "DOCTOR")
        assert kind in ("bulk", "verbatim") and b"command" in text
    x, y = both(pair, "LATENCY", "RESET", "command", "nosuch")
    assert x == y == ("int", 1)
    x, y = both(pair, "LATENCY", "LATEST")
    assert x == y == ("array", [])
