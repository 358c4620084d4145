"""GEO commands: points added with GEOADD (clusters, exact duplicates, the limits of the map), then
GEOPOS / GEOHASH / GEODIST and searches (GEORADIUS*, GEOSEARCH*) with random centers, radii, boxes,
units and options, compared exactly (result order included: Redis's cell order without sorting, its
sort with ASC/DESC/COUNT). STORE results are read back with ZRANGE WITHSCORES. Plus bad arguments,
wrong types, arity errors and members whose scores were set with ZADD.
"""
from harness import Cmd

KEYS = ["g1", "g2"]
DESTS = ["gd", "gd", "gd", "g2"]
UNITS = ["m", "km", "ft", "mi", "KM", "M"]
LAT_MAX = 85.05112878
CLUSTERS = [(13.36, 38.11), (-0.12, 51.5), (179.9, 0.1), (-179.95, -10.0), (0.0, 0.0), (120.0, 84.9),
            (-70.0, -84.0), (2.35, 48.85)]


def coord(rng):
    r = rng.random()
    if r < 0.55:
        lon, lat = rng.choice(CLUSTERS)
        spread = rng.choice([0.001, 0.05, 1.0, 5.0])
        lon = max(-180.0, min(180.0, lon + rng.uniform(-spread, spread)))
        lat = max(-LAT_MAX + 1e-5, min(LAT_MAX - 1e-5, lat + rng.uniform(-spread, spread)))
    elif r < 0.85:
        lon, lat = rng.uniform(-180, 180), rng.uniform(-LAT_MAX, LAT_MAX)
    elif r < 0.95:
        lon = rng.choice([-180, 180, 0, "-180", "180.0", "179.99999999"])
        lat = rng.choice([LAT_MAX, -LAT_MAX, 0, "85.05112878", "-85.05112878", "85"])
    else:
        lon, lat = rng.choice([(181, 0), (0, 85.06), ("abc", 1), (1, ""), ("inf", 0), (-180.0001, 0), ("1e2", "nan")])
    return [str(round(lon, rng.choice([6, 10, 14])) if isinstance(lon, float) else lon),
            str(round(lat, rng.choice([6, 10, 14])) if isinstance(lat, float) else lat)]


def member(rng):
    r = rng.random()
    if r < 0.7:
        return "m%d" % rng.randrange(40)
    return "p%d" % rng.randrange(400) if r < 0.95 else "x"


def distance(rng):
    r = rng.random()
    if r < 0.05:
        return rng.choice(["0", "-1", "abc", "inf", "1e400"])
    return str(round(rng.choice([1, 50, 500, 5000, 50000, 500000, 5e6, 2e7]) * rng.uniform(0.1, 2), 3))


def unit(rng):
    return rng.choice(UNITS) if rng.random() > 0.03 else rng.choice(["yd", "", "meters"])


def options(rng, allow_store, search_store=False):
    opts = []
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.45 and not search_store:
            opts.append(rng.choice(["WITHDIST", "WITHCOORD", "WITHHASH", "withdist"]))
        elif r < 0.65:
            opts.append(rng.choice(["ASC", "DESC"]))
        elif r < 0.85:
            n = rng.choice(["1", "2", "3", "5", "10", "50"]) if rng.random() < 0.9 else rng.choice(["0", "-1", "x"])
            opts += ["COUNT", n]
            if rng.random() < 0.3:
                opts.append("ANY")
        elif r < 0.87:
            opts.append("ANY")
        elif allow_store:
            opts += [rng.choice(["STORE", "STOREDIST"]), rng.choice(DESTS)]
        elif search_store:
            opts.append("STOREDIST")
    return opts


def center(rng):
    if rng.random() < 0.5:
        return ["FROMMEMBER", member(rng)]
    return ["FROMLONLAT"] + coord(rng)


def shape(rng):
    if rng.random() < 0.5:
        return ["BYRADIUS", distance(rng), unit(rng)]
    return ["BYBOX", distance(rng), distance(rng), unit(rng)]


def generate(rng):
    yield Cmd("SET", "str", "x")
    while True:
        k = rng.choice(KEYS) if rng.random() > 0.04 else rng.choice(["str", "nokey"])
        r = rng.random()
        if r < 0.25:
            args = ["GEOADD", k]
            if rng.random() < 0.2:
                args += rng.sample(["NX", "XX", "CH"], rng.randint(1, 2))
            for _ in range(rng.randint(1, 6)):
                args += coord(rng) + [member(rng)]
            if rng.random() < 0.03:
                args.pop()
            yield Cmd(*args)
        elif r < 0.31:
            yield Cmd("GEOPOS", k, *[member(rng) for _ in range(rng.randint(0, 4))])
        elif r < 0.36:
            yield Cmd("GEOHASH", k, *[member(rng) for _ in range(rng.randint(0, 4))])
        elif r < 0.42:
            extra = [unit(rng)] if rng.random() < 0.7 else []
            if rng.random() < 0.03:
                extra += ["m"]
            yield Cmd("GEODIST", k, member(rng), member(rng), *extra)
        elif r < 0.55:
            c = rng.choice(["GEORADIUS", "GEORADIUS_RO"])
            yield Cmd(c, k, *coord(rng), distance(rng), unit(rng), *options(rng, c == "GEORADIUS"))
        elif r < 0.64:
            c = rng.choice(["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"])
            yield Cmd(c, k, member(rng), distance(rng), unit(rng), *options(rng, c == "GEORADIUSBYMEMBER"))
        elif r < 0.78:
            parts = [center(rng), shape(rng), options(rng, False)]
            rng.shuffle(parts)
            args = [a for p in parts for a in p]
            if rng.random() < 0.05:
                args += center(rng) if rng.random() < 0.5 else shape(rng)
            if rng.random() < 0.04:
                args = [a for a in args if a not in ("FROMMEMBER", "FROMLONLAT", "BYRADIUS", "BYBOX")][:3]
            yield Cmd("GEOSEARCH", k, *args)
        elif r < 0.86:
            parts = [center(rng), shape(rng), options(rng, False, search_store=True)]
            rng.shuffle(parts)
            args = [a for p in parts for a in p]
            if rng.random() < 0.05:
                args.append("WITHDIST")
            yield Cmd("GEOSEARCHSTORE", rng.choice(DESTS), k, *args)
        elif r < 0.90:
            yield Cmd("ZRANGE", rng.choice(DESTS + KEYS), "0", "-1", "WITHSCORES")
        elif r < 0.92:
            # Scores that are no geohash of a valid point.
            yield Cmd("ZADD", k, rng.choice(["-1", "0", "1.5", "4503599627370496", "9007199254740993", "-inf",
                                             "inf", "1e300", "-1e300", "3471579339700058"]), member(rng))
        elif r < 0.94:
            yield Cmd("ZREM", k, member(rng), member(rng))
        elif r < 0.95:
            yield Cmd("DEL", rng.choice(DESTS))
        elif r < 0.97:
            yield Cmd(rng.choice(["GEOADD", "GEORADIUS", "GEOSEARCH", "GEODIST", "GEOSEARCHSTORE",
                                  "GEORADIUSBYMEMBER"]), k, "1", "2")
        else:
            yield Cmd("ZCARD", k)
