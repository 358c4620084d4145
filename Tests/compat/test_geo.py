"""GEO commands (GEOADD, GEODIST, GEOHASH, GEOPOS, GEORADIUS[_RO], GEORADIUSBYMEMBER[_RO], GEOSEARCH,
GEOSEARCHSTORE) compared with redis-server 7.0 on the wire: which points a search finds (points on
the border of a circle or box, areas around the poles and the antimeridian, huge radii), their order
(Redis's cell order, its sorts and COUNT's partial sort with ties), distances, coordinates, hashes,
stored results, errors, RESP3 replies and what is written to the append-only file.
"""
import math
import os
import random
import tempfile
import time

import pytest

from support import aof
from support.resp import Conn
from support.servers import start_lunar, start_redis

LAT_MAX = 85.05112878
UNITS = ["m", "km", "mi", "ft"]


@pytest.fixture
def both(lunar_server, redis_server):
    a, b = Conn(lunar_server.port), Conn(redis_server.port)
    for c in (a, b):
        c.call("FLUSHALL")
    yield a, b
    for c in (a, b):
        c.call("CONFIG", "SET", "zset-max-listpack-entries", "128")
        c.close()


def same(both, *args):
    a, b = both
    x, y = a.call(*args), b.call(*args)
    assert x == y, f"{args}: lunar {x!r} != redis {y!r}"
    return x


def fmt(v):
    return repr(float(v)) if isinstance(v, float) else str(v)


def add_points(both, key, points):
    args = []
    for lon, lat, m in points:
        args += [fmt(lon), fmt(lat), m]
    for i in range(0, len(args), 300):
        same(both, "GEOADD", key, *args[i:i + 300])


def random_points(rng, n, around=None, spread=1.0):
    pts = []
    for i in range(n):
        if around:
            lon = min(180.0, max(-180.0, around[0] + rng.uniform(-spread, spread)))
            lat = min(LAT_MAX, max(-LAT_MAX, around[1] + rng.uniform(-spread, spread)))
        else:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-LAT_MAX, LAT_MAX)
        pts.append((lon, lat, f"p{i}"))
    return pts


def test_documentation_examples(both):
    same(both, "GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
    for unit in ("m", "km", "mi", "ft", "KM"):
        same(both, "GEODIST", "Sicily", "Palermo", "Catania", unit)
    same(both, "GEODIST", "Sicily", "Palermo", "Catania")
    same(both, "GEODIST", "Sicily", "Foo", "Bar")
    same(both, "GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting")
    same(both, "GEOHASH", "Sicily", "Palermo", "Catania", "NonExisting")
    same(both, "GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH")
    same(both, "GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC")
    same(both, "GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "DESC", "WITHCOORD")
    same(both, "GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento")
    same(both, "GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC", "WITHCOORD",
         "WITHDIST")
    same(both, "GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km",
         "ASC", "COUNT", "3", "STOREDIST")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")


def search_variants(rng, key, members):
    """Random search commands over `key` (centers at points, at members, anywhere)."""
    while True:
        unit = rng.choice(UNITS)
        scale = {"m": 1, "km": 1000, "mi": 1609.34, "ft": 0.3048}[unit]
        meters = rng.choice([10, 1000, 50000, 300000, 2e6, 8e6, 2.1e7]) * rng.uniform(0.2, 1.5)
        dist = fmt(round(meters / scale, rng.choice([0, 3, 9])))
        opts = []
        for o in rng.sample(["WITHDIST", "WITHCOORD", "WITHHASH", "SORT", "COUNT"], rng.randint(0, 4)):
            if o == "SORT":
                opts.append(rng.choice(["ASC", "DESC"]))
            elif o == "COUNT":
                opts += ["COUNT", str(rng.choice([1, 2, 3, 7, 20, 100]))]
                if rng.random() < 0.25:
                    opts.append("ANY")
            else:
                opts.append(o)
        lon, lat = rng.uniform(-180, 180), rng.uniform(-LAT_MAX, LAT_MAX)
        r = rng.random()
        if r < 0.25:
            yield ["GEORADIUS", key, fmt(lon), fmt(lat), dist, unit] + opts
        elif r < 0.45:
            yield ["GEORADIUSBYMEMBER_RO", key, rng.choice(members), dist, unit] + opts
        else:
            frm = (["FROMMEMBER", rng.choice(members)] if rng.random() < 0.5
                   else ["FROMLONLAT", fmt(lon), fmt(lat)])
            if rng.random() < 0.5:
                by = ["BYRADIUS", dist, unit]
            else:
                w = fmt(round(meters * rng.uniform(0.5, 3) / scale, 3))
                by = ["BYBOX", w, dist, unit]
            yield ["GEOSEARCH", key] + frm + by + opts


@pytest.mark.parametrize("layout", ["world", "cluster", "poles", "antimeridian", "duplicates"])
def test_generated_searches(both, layout):
    rng = random.Random(layout)
    if layout == "world":
        pts = random_points(rng, 800)
    elif layout == "cluster":
        pts = random_points(rng, 600, around=(2.35, 48.85), spread=0.05) + random_points(rng, 200)
    elif layout == "poles":
        pts = random_points(rng, 300, around=(0, 84.5), spread=20) + random_points(rng, 300, around=(90, -84.5),
                                                                                    spread=20)
    elif layout == "antimeridian":
        pts = random_points(rng, 300, around=(179.9, 10), spread=1) + random_points(rng, 300, around=(-179.9, 10),
                                                                                     spread=1)
    else:
        # Many members on few exact spots: distances tie, so the sorts' handling of ties shows.
        spots = random_points(rng, 8, around=(10, 45), spread=2)
        pts = [(spots[i % 8][0], spots[i % 8][1], f"d{i}") for i in range(400)]
    for i, (lon, lat, m) in enumerate(pts):
        pts[i] = (lon, lat, m if layout == "duplicates" else f"{layout}{i}")
    add_points(both, "g", pts)
    members = [m for _, _, m in pts] + ["missing"]
    gen = search_variants(rng, "g", members)
    found = 0
    for _ in range(400):
        reply = same(both, *next(gen))
        if reply[0] == "array":
            found += len(reply[1])
    assert found > 500


def test_points_on_the_border(both):
    """Radius and box sizes equal to the distances Redis reports for each point (and a hair less or
    more): the same points are in or out on both servers."""
    rng = random.Random(7)
    pts = random_points(rng, 200, around=(-73.98, 40.75), spread=0.5)
    add_points(both, "b", pts)
    a, _ = both
    ref = a.call("GEORADIUS", "b", "-73.98", "40.75", "100", "km", "WITHDIST")
    for item in ref[1][:60]:
        d = float(item[1][1][1])
        for delta in (-0.0001, -0.00005, 0, 0.00005, 0.0001):
            r = fmt(round(d + delta, 4))
            same(both, "GEORADIUS", "b", "-73.98", "40.75", r, "km")
            same(both, "GEOSEARCH", "b", "FROMLONLAT", "-73.98", "40.75", "BYBOX", r, r, "km", "ASC")
            same(both, "GEOSEARCH", "b", "FROMMEMBER", item[1][0][1], "BYRADIUS", r, "km", "DESC", "COUNT", "5")


def test_limits_of_the_map(both):
    corners = [(-180, LAT_MAX, "nw"), (180, LAT_MAX, "ne"), (-180, -LAT_MAX, "sw"), (180, -LAT_MAX, "se"),
               (0, 0, "o"), (179.999999, 0, "e"), (-179.999999, 0, "w"), ("180.0", "0", "e2"), ("-0", "-0", "z")]
    add_points(both, "c", corners)
    for m in ("nw", "ne", "sw", "se", "o", "e", "w", "e2", "z"):
        same(both, "GEOPOS", "c", m)
        same(both, "GEOHASH", "c", m)
        same(both, "GEORADIUSBYMEMBER", "c", m, "22000", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC")
        same(both, "GEOSEARCH", "c", "FROMMEMBER", m, "BYBOX", "40000", "40000", "km", "WITHDIST", "ASC")
        same(both, "GEORADIUSBYMEMBER", "c", m, "0", "m", "WITHDIST")
    for lon, lat in (("180", "85.05112878"), ("-180", "-85.05112878"), ("180", "0"), ("0", "85")):
        for radius in ("1", "1000", "5000000", "20037726", "40000000"):
            same(both, "GEORADIUS", "c", lon, lat, radius, "m", "WITHDIST")
    same(both, "GEODIST", "c", "e", "w", "km")
    same(both, "GEODIST", "c", "nw", "se")


def test_scores_that_are_no_geohash(both):
    """Members given scores with ZADD: Redis decodes whatever is there (negative, fractional, past 52
    bits, infinite) and so must Lunar."""
    scores = ["0", "-1", "-0.5", "1.5", "4503599627370495", "4503599627370496", "9007199254740992",
              "18446744073709551616", "9.3e18", "-9.3e18", "1e300", "-1e300", "inf", "-inf", "3471579339700058.5"]
    for i, s in enumerate(scores):
        same(both, "ZADD", "w", s, f"s{i}")
    names = [f"s{i}" for i in range(len(scores))]
    same(both, "GEOPOS", "w", *names)
    same(both, "GEOHASH", "w", *names)
    for i in range(0, len(names) - 1):
        same(both, "GEODIST", "w", names[i], names[i + 1], "km")
    same(both, "GEORADIUS", "w", "0", "0", "30000", "km", "WITHHASH", "WITHCOORD", "WITHDIST", "ASC")
    same(both, "GEORADIUSBYMEMBER", "w", "s0", "100", "km", "WITHHASH")
    same(both, "GEOSEARCH", "w", "FROMMEMBER", "s3", "BYBOX", "50000", "50000", "km", "WITHHASH", "WITHCOORD")


def test_geoadd_options_and_replies(both):
    same(both, "GEOADD", "k", "1", "1", "a", "2", "2", "b")
    same(both, "GEOADD", "k", "NX", "3", "3", "a", "4", "4", "c")
    same(both, "GEOADD", "k", "XX", "5", "5", "a", "6", "6", "d")
    same(both, "GEOADD", "k", "XX", "CH", "7", "7", "a", "2", "2", "b")
    same(both, "GEOADD", "k", "CH", "NX", "8", "8", "e")
    same(both, "GEOADD", "k", "ch", "xx", "ch", "9", "9", "e")
    same(both, "ZRANGE", "k", "0", "-1", "WITHSCORES")
    same(both, "OBJECT", "ENCODING", "k")
    for c in both:
        c.call("CONFIG", "SET", "zset-max-listpack-entries", "2")
    same(both, "GEOADD", "big", "1", "1", "a", "2", "2", "b", "3", "3", "c")
    same(both, "OBJECT", "ENCODING", "big")


def test_errors(both):
    same(both, "SET", "str", "x")
    same(both, "GEOADD", "g", "1", "1", "a", "2", "2", "b")
    cases = [
        ["GEOADD", "g", "200", "10", "x"], ["GEOADD", "g", "10", "86", "x"], ["GEOADD", "g", "nan", "1", "x"],
        ["GEOADD", "g", "1", "1", "ok", "1", "abc", "x"], ["GEOADD", "g", "NX", "XX", "1", "1", "x"],
        ["GEOADD", "g", "1", "1", "x", "2"], ["GEOADD", "g", "NX", "CH", "XX"], ["GEOADD", "g", "GT", "1", "1", "x"],
        ["GEOADD", "str", "1", "1", "x"], ["GEOADD", "str", "1000", "1", "x"], ["GEOADD", "g", "-inf", "1", "x"],
        ["GEOADD", "g", "1e400", "1", "x"], ["GEOADD", "g", "nx", "ch", "ch"],
        ["GEODIST", "g", "a", "b", "parsecs"], ["GEODIST", "g", "a", "b", "km", "x"], ["GEODIST", "str", "a", "b"],
        ["GEODIST", "nokey", "a", "b"], ["GEODIST", "nokey", "a", "b", "furlong"],
        ["GEOPOS", "str", "a"], ["GEOHASH", "str"], ["GEOPOS", "nokey", "a"], ["GEOHASH", "g"],
        ["GEORADIUS", "g", "1", "1", "-1", "km"], ["GEORADIUS", "g", "1", "1", "x", "km"],
        ["GEORADIUS", "g", "1", "1", "1", "yards"], ["GEORADIUS", "g", "181", "1", "1", "km"],
        ["GEORADIUS", "g", "1", "1", "1", "km", "COUNT", "0"], ["GEORADIUS", "g", "1", "1", "1", "km", "COUNT", "x"],
        ["GEORADIUS", "g", "1", "1", "1", "km", "COUNT"], ["GEORADIUS", "g", "1", "1", "1", "km", "ANY"],
        ["GEORADIUS", "g", "1", "1", "1", "km", "STORE"], ["GEORADIUS", "g", "1", "1", "1", "km", "STORE", "d", "WITHDIST"],
        ["GEORADIUS", "g", "1", "1", "1", "km", "bogus"], ["GEORADIUS", "str", "1", "1", "1", "km"],
        ["GEORADIUS", "nokey", "1", "1", "-1", "km"], ["GEORADIUS", "nokey", "1", "1", "1", "km", "ANY"],
        ["GEORADIUS_RO", "g", "1", "1", "1", "km", "STORE", "d"], ["GEORADIUS_RO", "g", "1", "1", "1", "km", "STOREDIST", "d"],
        ["GEORADIUSBYMEMBER", "g", "zz", "1", "km"], ["GEORADIUSBYMEMBER", "nokey", "zz", "-1", "x", "WITHDIST"],
        ["GEORADIUSBYMEMBER", "nokey", "zz", "1", "km", "STORE", "d"], ["GEORADIUSBYMEMBER", "g", "a", "1", "km", "FROMMEMBER", "a"],
        ["GEOSEARCH", "g", "FROMMEMBER", "a"], ["GEOSEARCH", "g", "BYRADIUS", "1", "km"],
        ["GEOSEARCH", "g", "FROMMEMBER", "a", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
        ["GEOSEARCH", "g", "FROMMEMBER", "a", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"],
        ["GEOSEARCH", "g", "FROMMEMBER", "zz", "BYRADIUS", "1", "km"], ["geosearch", "g", "BYBOX", "1", "1", "km", "ASC"],
        ["GeoSearch", "g", "FROMLONLAT", "1", "1", "ASC", "WITHDIST"], ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "-1", "1", "km"],
        ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "1", "x", "km"], ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "x", "1", "km"],
        ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYBOX", "1", "1", "au"], ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1"],
        ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "d"],
        ["GEOSEARCH", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STOREDIST"],
        ["GEOSEARCH", "nokey", "FROMMEMBER", "zz", "BYRADIUS", "1", "km"], ["GEOSEARCH", "str", "FROMMEMBER", "zz", "BYRADIUS", "1", "km"],
        ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "WITHCOORD"],
        ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "x"],
        ["GEOSEARCHSTORE", "d", "g", "FROMLONLAT", "1", "1"], ["GEOSEARCHSTORE", "d", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
        ["GEOADD", "g", "1", "1"], ["GEODIST", "g", "a"], ["GEORADIUS", "g", "1", "1", "1"], ["GEOSEARCH", "g", "FROMMEMBER", "a", "ASC"],
    ]
    for args in cases:
        same(both, *args)
    same(both, "ZRANGE", "g", "0", "-1", "WITHSCORES")


def test_store_results(both):
    rng = random.Random(5)
    add_points(both, "src", random_points(rng, 300, around=(30, 30), spread=3))
    same(both, "SET", "dst", "a string")
    same(both, "EXPIRE", "dst", "1000")
    same(both, "GEORADIUS", "src", "30", "30", "100", "km", "STORE", "dst")
    same(both, "TTL", "dst")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same(both, "OBJECT", "ENCODING", "dst")
    same(both, "GEORADIUS", "src", "30", "30", "500", "km", "STOREDIST", "dst", "COUNT", "40", "DESC")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same(both, "GEORADIUSBYMEMBER", "src", "p3", "200", "mi", "STORE", "dst2", "STOREDIST", "dst")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same(both, "EXISTS", "dst2")
    same(both, "GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "p7", "BYBOX", "300", "100", "km", "STOREDIST", "ASC")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same(both, "OBJECT", "ENCODING", "dst")
    same(both, "GEOSEARCHSTORE", "dst", "src", "FROMMEMBER", "p7", "BYRADIUS", "5000", "km", "COUNT", "3", "ANY")
    same(both, "ZRANGE", "dst", "0", "-1", "WITHSCORES")
    # Nothing found, or no source: the destination is deleted.
    same(both, "GEOSEARCHSTORE", "dst", "src", "FROMLONLAT", "-100", "-30", "BYRADIUS", "1", "km")
    same(both, "EXISTS", "dst")
    same(both, "SET", "dst", "x")
    same(both, "GEORADIUS", "nosrc", "1", "1", "1", "km", "STORE", "dst")
    same(both, "EXISTS", "dst")
    same(both, "GEOSEARCHSTORE", "src", "src", "FROMMEMBER", "p1", "BYRADIUS", "10", "km")
    same(both, "ZRANGE", "src", "0", "-1", "WITHSCORES")


def test_debug_reload_keeps_indexes(both):
    """Through an RDB round trip (DEBUG RELOAD) the scores, encodings and search results stay."""
    rng = random.Random(12)
    add_points(both, "small", random_points(rng, 20, around=(5, 5), spread=1))
    add_points(both, "large", random_points(rng, 500, around=(5, 5), spread=3))
    for c in both:
        assert c.call("DEBUG", "RELOAD") == ("simple", b"OK")
    for k in ("small", "large"):
        same(both, "OBJECT", "ENCODING", k)
        same(both, "ZRANGE", k, "0", "-1", "WITHSCORES")
        same(both, "GEOSEARCH", k, "FROMLONLAT", "5", "5", "BYRADIUS", "150", "km", "WITHCOORD", "WITHDIST", "ASC")


def test_resp3_replies(both):
    for c in both:
        assert c.call("HELLO", "3")[0] == "map"
    same(both, "GEOADD", "r", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
    same(both, "GEOPOS", "r", "Palermo", "nope")
    same(both, "GEODIST", "r", "Palermo", "Catania")
    same(both, "GEODIST", "r", "Palermo", "nope")
    same(both, "GEODIST", "nokey", "Palermo", "nope")
    same(both, "GEOHASH", "r", "Palermo", "nope")
    same(both, "GEORADIUS", "r", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH")
    same(both, "GEOSEARCH", "r", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "m", "WITHCOORD")
    same(both, "GEOSEARCH", "nokey", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "m")


def test_watch_and_keyspace_misses(both):
    """A STORE modifies the destination for WATCH; a search of a missing key counts a miss."""
    results = []
    for c in both:
        port = c.sock.getpeername()[1]
        c.call("GEOADD", "src", "1", "1", "a")
        c.call("WATCH", "dst")
        other = Conn(port)
        other.call("GEOSEARCHSTORE", "dst", "src", "FROMLONLAT", "1", "1", "BYRADIUS", "10", "km")
        other.close()
        c.call("MULTI")
        c.call("PING")
        results.append(c.call("EXEC"))
    assert results[0] == results[1] == ("nullarray",)


# MARK: propagation

def test_propagation_matches_redis():
    """GEOADD goes out as the ZADD it ran, searches with STORE as sent, read-only searches not at all."""
    lw = tempfile.mkdtemp(prefix="lunar-geo-aof-")
    servers = [start_lunar("--appendonly", "yes", "--appendfsync", "always", workdir=lw),
               start_redis("--appendonly", "yes", "--appendfsync", "always")]
    try:
        conns = [Conn(s.port) for s in servers]
        script = [
            ["GEOADD", "g", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
            ["GEOADD", "g", "NX", "CH", "1", "1", "Palermo", "2", "2", "x"], ["GEOADD", "g", "XX", "1", "1", "nope"],
            ["GEOADD", "g", "200", "1", "bad"], ["GEOPOS", "g", "x"], ["GEODIST", "g", "x", "Palermo"],
            ["GEORADIUS", "g", "15", "37", "200", "km"], ["GEORADIUS", "g", "15", "37", "200", "km", "STORE", "s1"],
            ["GEORADIUSBYMEMBER", "g", "Palermo", "300", "km", "STOREDIST", "s2", "COUNT", "1"],
            ["GEOSEARCHSTORE", "s3", "g", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "STOREDIST"],
            ["GEOSEARCHSTORE", "s3", "g", "FROMLONLAT", "-15", "-37", "BYBOX", "4", "4", "km"],
            ["GEOSEARCHSTORE", "s3", "g", "FROMLONLAT", "-15", "-37", "BYBOX", "4", "4", "km"],
            ["GEOSEARCH", "g", "FROMMEMBER", "x", "BYRADIUS", "10", "km"],
            ["MULTI"], ["GEOADD", "m", "1", "1", "a"], ["GEORADIUS", "m", "1", "1", "1", "km", "STORE", "m2"], ["EXEC"],
        ]
        for cmd in script:
            x, y = conns[0].call(*cmd), conns[1].call(*cmd)
            assert x == y, (cmd, x, y)
        for c in conns:
            aof.wait_written(c)
            c.close()
        lunar_aof = aof.incr_commands(lw)
        redis_aof = aof.incr_commands(servers[1].workdir)
        assert lunar_aof == redis_aof
        assert any(c[0] == b"zadd" for c in lunar_aof)
    finally:
        for s in servers:
            s.stop()


def test_command_getkeys(both):
    """The keys of the searches that may store, as Redis 7.0's key specs find them."""
    for args in (["GEORADIUS", "k", "1", "1", "1", "km", "STORE", "a", "STOREDIST", "b"],
                 ["GEORADIUS", "k", "1", "1", "1", "km", "STOREDIST", "a", "STORE", "b", "STORE", "c"],
                 ["GEORADIUS", "k", "1", "1", "1", "km", "WITHDIST", "store"],
                 ["GEORADIUSBYMEMBER", "k", "store", "1", "km", "store", "x"],
                 ["GEORADIUS_RO", "k", "1", "1", "1", "km"],
                 ["GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
                 ["GEOSEARCH", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"]):
        same(both, "COMMAND", "GETKEYS", *args)


def _doc_tokens(args, acc):
    for x in args:
        d = dict(zip(x[1][0::2], x[1][1::2]))
        tok = d.get(("bulk", b"token"))
        if tok:
            acc.append(tok[1].upper())
        if ("bulk", b"arguments") in d:
            _doc_tokens(d[("bulk", b"arguments")][1], acc)
    return acc


@pytest.mark.parametrize("name", ["geoadd", "geodist", "geohash", "geopos", "georadius", "georadius_ro",
                                  "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore",
                                  "pfadd", "pfcount", "pfmerge", "pfdebug", "pfselftest"])
def test_command_docs(both, name):
    """COMMAND DOCS: the same group and since, and the same option tokens as Redis documents."""
    a, b = both
    ld, rd = a.call("COMMAND", "DOCS", name), b.call("COMMAND", "DOCS", name)
    lm = dict(zip(ld[1][1][1][0::2], ld[1][1][1][1::2]))
    rm = dict(zip(rd[1][1][1][0::2], rd[1][1][1][1::2]))
    for k in (b"since", b"group"):
        assert lm[("bulk", k)] == rm[("bulk", k)], (name, k)
    lt = _doc_tokens(lm.get(("bulk", b"arguments"), ("array", []))[1], [])
    rt = _doc_tokens(rm.get(("bulk", b"arguments"), ("array", []))[1], [])
    assert sorted(set(lt)) == sorted(set(rt)), name
