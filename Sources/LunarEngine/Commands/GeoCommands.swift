import LunarRESP

/// The GEO family: points stored in sorted sets with 52-bit geohash scores (see Types/GeoHash.swift).
/// GEOADD is ZADD with computed scores; the searches read the score ranges of nine cells around the
/// center and filter by distance, as Redis 7.0 does, so they find the same points.
enum GeoCommands {
    static var specs: [CommandSpec] {
        [
            CommandSpec("geoadd", arity: -5, flags: [.write, .denyoom], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Adds or moves named points (longitude, latitude) in a sorted set used as a geospatial index.",
                        complexity: "O(log(N)) for each point added, N the number of members.",
                        syntax: "key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]", handler: geoadd),
            CommandSpec("geodist", arity: -4, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Answers the distance between two members of a geospatial index, in meters or the unit given.",
                        complexity: "O(1)", syntax: "key member1 member2 [M|KM|FT|MI]", handler: geodist),
            CommandSpec("geohash", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Answers the standard 11-character geohash of members of a geospatial index.",
                        complexity: "O(1) for each member.", syntax: "key [member [member ...]]", handler: geohash),
            CommandSpec("geopos", arity: -2, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Answers the longitude and latitude of members of a geospatial index.",
                        complexity: "O(1) for each member.", syntax: "key [member [member ...]]", handler: geopos),
            CommandSpec("georadius", arity: -6, flags: [.write, .denyoom], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Finds the members within a radius of a point, optionally storing them (superseded by GEOSEARCH).",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "key longitude latitude radius <M|KM|FT|MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]",
                        handler: { search($0, source: 1, flags: [.coords]) }, getKeys: storeKeys(from: 6)),
            CommandSpec("georadius_ro", arity: -6, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "3.2.10",
                        summary: "Finds the members within a radius of a point (read-only GEORADIUS).",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "key longitude latitude radius <M|KM|FT|MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]",
                        handler: { search($0, source: 1, flags: [.coords, .noStore]) }),
            CommandSpec("georadiusbymember", arity: -5, flags: [.write, .denyoom], keys: (1, 1, 1), group: .geo, since: "3.2.0",
                        summary: "Finds the members within a radius of a member, optionally storing them (superseded by GEOSEARCH).",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "key member radius <M|KM|FT|MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key] [STOREDIST key]",
                        handler: { search($0, source: 1, flags: [.member]) }, getKeys: storeKeys(from: 5)),
            CommandSpec("georadiusbymember_ro", arity: -5, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "3.2.10",
                        summary: "Finds the members within a radius of a member (read-only GEORADIUSBYMEMBER).",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "key member radius <M|KM|FT|MI> [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]",
                        handler: { search($0, source: 1, flags: [.member, .noStore]) }),
            CommandSpec("geosearch", arity: -7, flags: [.readonly], keys: (1, 1, 1), group: .geo, since: "6.2.0",
                        summary: "Finds the members within a circle or a box around a member or a point.",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "key <FROMMEMBER member|FROMLONLAT longitude latitude> <BYRADIUS radius <M|KM|FT|MI>|BYBOX width height <M|KM|FT|MI>> [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]",
                        handler: { search($0, source: 1, flags: [.search]) }),
            CommandSpec("geosearchstore", arity: -8, flags: [.write, .denyoom], keys: (1, 2, 1), group: .geo, since: "6.2.0",
                        summary: "Stores in a sorted set the members GEOSEARCH would find (or their distances).",
                        complexity: "O(N+log(M)), N the members in the cells around the area, M the index size.",
                        syntax: "destination source <FROMMEMBER member|FROMLONLAT longitude latitude> <BYRADIUS radius <M|KM|FT|MI>|BYBOX width height <M|KM|FT|MI>> [ASC|DESC] [COUNT count [ANY]] [STOREDIST]",
                        handler: { search($0, source: 2, flags: [.search, .searchStore]) }),
        ]
    }

    /// GEORADIUS(BYMEMBER) keys as Redis 7.0's key specs find them: the source, then the key after
    /// the first STORE and the one after the first STOREDIST, searched from the options' position
    /// (`from`) up to the next-to-last argument.
    static func storeKeys(from: Int) -> ([Bytes]) -> [Int] {
        { argv in
            var keys = [1]
            for word in ["store", "storedist"] {
                var i = from
                while i < argv.count - 1 {
                    if argv[i].lowercased.string == word {
                        keys.append(i + 1)
                        break
                    }
                    i += 1
                }
            }
            return keys
        }
    }

    // MARK: Argument helpers (each writes Redis's error and answers nil on failure)

    /// A longitude and latitude at argv[i], argv[i+1], within Redis's limits.
    static func lonLat(_ ctx: CommandContext, _ i: Int) -> (Double, Double)? {
        guard let lon = ctx.double(i), let lat = ctx.double(i + 1) else { return nil }
        if lon < GeoHash.lonMin || lon > GeoHash.lonMax || lat < GeoHash.latMin || lat > GeoHash.latMax {
            ctx.error("ERR invalid longitude,latitude pair \(cFormat("%f", lon)),\(cFormat("%f", lat))")
            return nil
        }
        return (lon, lat)
    }

    /// Meters per unit.
    static func unit(_ ctx: CommandContext, _ b: Bytes) -> Double? {
        if b.equalsIgnoringCase("m") { return 1 }
        if b.equalsIgnoringCase("km") { return 1000 }
        if b.equalsIgnoringCase("ft") { return 0.3048 }
        if b.equalsIgnoringCase("mi") { return 1609.34 }
        ctx.error("ERR unsupported unit provided. please use M, KM, FT, MI")
        return nil
    }

    /// `radius unit` at argv[i]: (radius, meters per unit).
    static func radius(_ ctx: CommandContext, _ i: Int) -> (Double, Double)? {
        guard let r = ctx.double(i, error: "ERR need numeric radius") else { return nil }
        if r < 0 {
            ctx.error("ERR radius cannot be negative")
            return nil
        }
        guard let u = unit(ctx, ctx.argv[i + 1]) else { return nil }
        return (r, u)
    }

    /// `width height unit` at argv[i]: (width, height, meters per unit).
    static func box(_ ctx: CommandContext, _ i: Int) -> (Double, Double, Double)? {
        guard let w = ctx.double(i, error: "ERR need numeric width"),
              let h = ctx.double(i + 1, error: "ERR need numeric height") else { return nil }
        if h < 0 || w < 0 {
            ctx.error("ERR height or width cannot be negative")
            return nil
        }
        guard let u = unit(ctx, ctx.argv[i + 2]) else { return nil }
        return (w, h, u)
    }

    /// The sorted set at `key` for reading; nil with `ok` false when WRONGTYPE was written.
    private static func zsetRead(_ ctx: CommandContext, _ key: Bytes) -> (ZSetObject?, ok: Bool) {
        switch ctx.db.lookupRead(key) {
        case nil: return (nil, true)
        case let .zset(z)?: return (z, true)
        default:
            ctx.wrongType()
            return (nil, false)
        }
    }

    /// Distances with four decimals, as Redis answers them.
    static func writeDistance(_ out: inout ReplyWriter, _ d: Double) { out.bulk(cFormat("%.4f", d)) }

    /// A coordinate as Redis's "human" long double text (17 decimals, trailing zeros dropped).
    static func writeCoordinate(_ out: inout ReplyWriter, _ v: Double) {
        out.double(text: StringEncoding.formatLongDouble(StringEncoding.LongDouble(v)))
    }

    /// A double to a signed 64-bit integer as C on x86-64 converts one (out of range: INT64_MIN).
    static func cToInt64(_ d: Double) -> Int {
        guard d.isFinite, d >= -9223372036854775808.0, d < 9223372036854775808.0 else { return Int.min }
        return Int(d)
    }

    // MARK: GEOADD, GEOPOS, GEOHASH, GEODIST

    static func geoadd(_ ctx: CommandContext) {
        let argv = ctx.argv
        var nx = false, xx = false
        var i = 2
        while i < argv.count {
            if argv[i].equalsIgnoringCase("nx") { nx = true }
            else if argv[i].equalsIgnoringCase("xx") { xx = true }
            else if !argv[i].equalsIgnoringCase("ch") { break }
            i += 1
        }
        if (argv.count - i) % 3 != 0 || (xx && nx) { return ctx.syntaxError() }
        // As Redis: run ZADD with the options and (score, member) pairs; it is also what propagates.
        var zadd: [Bytes] = [Bytes("zadd")] + argv[1..<i]
        var j = i
        while j < argv.count {
            guard let (lon, lat) = lonLat(ctx, j), let score = GeoHash.score(lon: lon, lat: lat) else { return }
            zadd.append(Bytes(String(score)))
            zadd.append(argv[j + 2])
            j += 3
        }
        ctx.argv = zadd
        SortedSetCommands.zadd(ctx, zincrby: false)
        ctx.argv = argv
        ctx.propagateAs([zadd])
    }

    static func geopos(_ ctx: CommandContext) {
        let (z, ok) = zsetRead(ctx, ctx.argv[1])
        guard ok else { return }
        ctx.out.array(ctx.argc - 2)
        for i in 2..<ctx.argc {
            guard let score = z?.score(of: ctx.argv[i]) else {
                ctx.out.nullArray()
                continue
            }
            let (lon, lat) = GeoHash.decodeScore(score)
            ctx.out.array(2)
            writeCoordinate(&ctx.out, lon)
            writeCoordinate(&ctx.out, lat)
        }
    }

    static func geohash(_ ctx: CommandContext) {
        let (z, ok) = zsetRead(ctx, ctx.argv[1])
        guard ok else { return }
        ctx.out.array(ctx.argc - 2)
        for i in 2..<ctx.argc {
            guard let score = z?.score(of: ctx.argv[i]) else {
                ctx.out.nullBulk()
                continue
            }
            ctx.out.bulk(bytes: GeoHash.geohashString(score: score))
        }
    }

    static func geodist(_ ctx: CommandContext) {
        var toMeters = 1.0
        if ctx.argc == 5 {
            guard let u = unit(ctx, ctx.argv[4]) else { return }
            toMeters = u
        } else if ctx.argc > 5 {
            return ctx.syntaxError()
        }
        let (zo, ok) = zsetRead(ctx, ctx.argv[1])
        guard ok else { return }
        guard let z = zo else { return ctx.out.nullBulk() }
        guard let s1 = z.score(of: ctx.argv[2]), let s2 = z.score(of: ctx.argv[3]) else { return ctx.out.nullBulk() }
        let a = GeoHash.decodeScore(s1), b = GeoHash.decodeScore(s2)
        writeDistance(&ctx.out, GeoHash.distance(lon1: a.lon, lat1: a.lat, lon2: b.lon, lat2: b.lat) / toMeters)
    }

    // MARK: GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE

    struct SearchFlags: OptionSet {
        let rawValue: Int
        static let coords = SearchFlags(rawValue: 1)        // around a longitude, latitude
        static let member = SearchFlags(rawValue: 2)        // around a member
        static let noStore = SearchFlags(rawValue: 4)       // the _RO variants
        static let search = SearchFlags(rawValue: 8)        // GEOSEARCH's syntax
        static let searchStore = SearchFlags(rawValue: 16)  // GEOSEARCHSTORE
    }

    struct Point {
        var member: Bytes
        var lon: Double
        var lat: Double
        var dist: Double
        var score: Double
    }

    enum Order { case none, asc, desc }

    /// The shared engine of the search commands, following Redis's argument order and checks.
    static func search(_ ctx: CommandContext, source: Int, flags: SearchFlags) {
        let argv = ctx.argv
        var storeKey: Bytes?
        var storeDist = false
        let (zobj, ok) = zsetRead(ctx, argv[source])
        guard ok else { return }

        var lon = 0.0, lat = 0.0
        var shape = GeoHash.Shape.radius(0)
        var toMeters = 0.0
        let base: Int
        if flags.contains(.coords) {
            base = 6
            guard let (x, y) = lonLat(ctx, 2), let (r, u) = radius(ctx, 4) else { return }
            (lon, lat, shape, toMeters) = (x, y, .radius(r), u)
        } else if flags.contains(.member) {
            base = 5
            // Without a source key Redis only goes on parsing the options (to pick the reply).
            if let z = zobj {
                guard let score = z.score(of: argv[2]) else {
                    return ctx.error("ERR could not decode requested zset member")
                }
                (lon, lat) = GeoHash.decodeScore(score)
                guard let (r, u) = radius(ctx, 3) else { return }
                (shape, toMeters) = (.radius(r), u)
            }
        } else {
            base = flags.contains(.searchStore) ? 3 : 2
            if flags.contains(.searchStore) { storeKey = argv[1] }
        }

        var withDist = false, withHash = false, withCoords = false
        var fromMember = false, fromLonLat = false, byRadius = false, byBox = false
        var order = Order.none
        var any = false
        var count = 0
        let search = flags.contains(.search)
        let storeAllowed = !flags.contains(.noStore) && !search
        var i = base
        while i < argv.count {
            let a = argv[i]
            let left = argv.count - i - 1   // arguments after this one
            if a.equalsIgnoringCase("withdist") {
                withDist = true
            } else if a.equalsIgnoringCase("withhash") {
                withHash = true
            } else if a.equalsIgnoringCase("withcoord") {
                withCoords = true
            } else if a.equalsIgnoringCase("any") {
                any = true
            } else if a.equalsIgnoringCase("asc") {
                order = .asc
            } else if a.equalsIgnoringCase("desc") {
                order = .desc
            } else if a.equalsIgnoringCase("count") && left >= 1 {
                guard let n = ctx.int(i + 1) else { return }
                if n <= 0 { return ctx.error("ERR COUNT must be > 0") }
                count = n
                i += 1
            } else if a.equalsIgnoringCase("store") && left >= 1 && storeAllowed {
                storeKey = argv[i + 1]
                storeDist = false
                i += 1
            } else if a.equalsIgnoringCase("storedist") && left >= 1 && storeAllowed {
                storeKey = argv[i + 1]
                storeDist = true
                i += 1
            } else if a.equalsIgnoringCase("storedist") && search && flags.contains(.searchStore) {
                storeDist = true
            } else if a.equalsIgnoringCase("frommember") && left >= 1 && search && !fromLonLat {
                if let z = zobj {
                    guard let score = z.score(of: argv[i + 1]) else {
                        return ctx.error("ERR could not decode requested zset member")
                    }
                    (lon, lat) = GeoHash.decodeScore(score)
                }
                fromMember = true
                i += 1
            } else if a.equalsIgnoringCase("fromlonlat") && left >= 2 && search && !fromMember {
                guard let (x, y) = lonLat(ctx, i + 1) else { return }
                (lon, lat) = (x, y)
                fromLonLat = true
                i += 2
            } else if a.equalsIgnoringCase("byradius") && left >= 2 && search && !byBox {
                guard let (r, u) = radius(ctx, i + 1) else { return }
                (shape, toMeters) = (.radius(r), u)
                byRadius = true
                i += 2
            } else if a.equalsIgnoringCase("bybox") && left >= 3 && search && !byRadius {
                guard let (w, h, u) = box(ctx, i + 1) else { return }
                (shape, toMeters) = (.box(width: w, height: h), u)
                byBox = true
                i += 3
            } else {
                return ctx.syntaxError()
            }
            i += 1
        }

        if storeKey != nil && (withDist || withHash || withCoords) {
            let what = flags.contains(.searchStore) ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS"
            return ctx.error("ERR \(what) is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
        }
        if search && !(fromMember || fromLonLat) {
            return ctx.error("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(argv[0].string)")
        }
        if search && !(byRadius || byBox) {
            return ctx.error("ERR exactly one of BYRADIUS and BYBOX can be specified for \(argv[0].string)")
        }
        if any && count == 0 { return ctx.error("ERR the ANY argument requires COUNT argument") }

        guard let z = zobj else {
            if let dst = storeKey {
                deleteStore(ctx, dst)
                ctx.out.integer(0)
            } else {
                ctx.out.array(0)
            }
            return
        }
        // COUNT keeps the nearest ones, so it implies ASC (unless ANY: the first found).
        if count != 0 && order == .none && !any { order = .asc }

        let area = GeoHash.Search(lon: lon, lat: lat, shape: shape, toMeters: toMeters)
        var points = collect(z, area, limit: any ? count : 0)
        if points.isEmpty && storeKey == nil { return ctx.out.array(0) }

        let total = points.count
        let returned = (count == 0 || total < count) ? total : count
        if order != .none {
            let desc = order == .desc
            if returned == total {
                sortStable(&points, desc: desc)
            } else {
                PartialSort.sort(&points, upTo: returned - 1) { a, b in
                    let c = a.dist > b.dist ? 1 : (a.dist == b.dist ? 0 : -1)
                    return desc ? -c : c
                }
            }
        }

        if let dst = storeKey {
            let result = ZSetObject()
            result.beginBuilding()
            for p in points.prefix(returned) where !result.contains(p.member) {
                result.insert(p.member, score: storeDist ? p.dist / toMeters : p.score)
            }
            if returned > 0 {
                let lim = EncodingLimits.of(ctx.engine)
                result.settleEncoding(maxEntries: lim.zsetMaxListpackEntries, maxValue: lim.zsetMaxListpackValue)
                ctx.db.set(dst, .zset(result))
                ctx.db.signalModified(dst)
                ctx.db.signalReady(dst)
                ctx.notify(KeyspaceEvents.zset, search ? "geosearchstore" : "georadiusstore", dst)
                ctx.engine.dirty &+= returned - 1   // Redis counts one change per point stored
            } else {
                deleteStore(ctx, dst)
            }
            ctx.out.integer(returned)
            return
        }

        let options = (withDist ? 1 : 0) + (withCoords ? 1 : 0) + (withHash ? 1 : 0)
        ctx.out.array(returned)
        for p in points.prefix(returned) {
            if options > 0 { ctx.out.array(options + 1) }
            ctx.out.bulk(p.member)
            if withDist { writeDistance(&ctx.out, p.dist / toMeters) }
            if withHash { ctx.out.integer(cToInt64(p.score)) }
            if withCoords {
                ctx.out.array(2)
                writeCoordinate(&ctx.out, p.lon)
                writeCoordinate(&ctx.out, p.lat)
            }
        }
    }

    /// An empty search result with a destination: the destination goes, as in Redis.
    private static func deleteStore(_ ctx: CommandContext, _ dst: Bytes) {
        if ctx.db.deleteIgnoringExpiry(dst) {
            ctx.db.signalModified(dst)
            ctx.notify(KeyspaceEvents.generic, "del", dst)
        }
    }

    /// The points inside the search area, cell by cell in Redis's order, each cell in score order;
    /// with `limit` (ANY) it stops once that many are found.
    static func collect(_ z: ZSetObject, _ area: GeoHash.Search, limit: Int) -> [Point] {
        var points: [Point] = []
        let cells = GeoHash.searchCells(area)
        var lastProcessed = 0
        for (i, cell) in cells.enumerated() {
            if cell.isZero { continue }
            // Huge areas make neighbouring cells coincide: skip a cell equal to the one just read.
            // (Like Redis, the comparison starts after the first neighbour.)
            if lastProcessed != 0 && cell == cells[lastProcessed] { continue }
            if !points.isEmpty && limit > 0 && points.count >= limit { break }
            let min = Double(GeoHash.align52(cell))
            let max = Double(GeoHash.align52(GeoHash.Bits(bits: cell.bits &+ 1, step: cell.step)))
            var node = z.firstIn(ZScoreRange(min: min, max: max, maxExclusive: true))
            while let n = node, n.score < max {
                let (plon, plat) = GeoHash.decodeScore(n.score)
                if let d = area.distanceIfInside(lon: plon, lat: plat) {
                    points.append(Point(member: n.member, lon: plon, lat: plat, dist: d, score: n.score))
                }
                if !points.isEmpty && limit > 0 && points.count >= limit { break }
                node = n.next
            }
            lastProcessed = i
        }
        return points
    }

    /// A stable sort by distance (Redis sorts the whole result with glibc's qsort, a merge sort).
    static func sortStable(_ points: inout [Point], desc: Bool) {
        let order = points.indices.sorted { a, b in
            let da = points[a].dist, db = points[b].dist
            if da != db { return desc ? da > db : da < db }
            return a < b
        }
        points = order.map { points[$0] }
    }
}

/// Redis 7.0's partial quicksort (pqsort: Bentley & McIlroy's qsort as in NetBSD's libc, recursing
/// only into the parts that overlap the wanted range; unlike later NetBSD versions, no switch to
/// insertion sort when a partition swapped nothing). COUNT takes the first N of a result sorted this
/// way, and which of several equally distant points come first depends on its exact steps.
enum PartialSort {
    static func sort<T>(_ a: inout [T], upTo r: Int, _ cmp: (T, T) -> Int) {
        a.withUnsafeMutableBufferPointer { buf in
            run(buf, 0, buf.count, lo: 0, hi: r, cmp)
        }
    }

    private static func med3<T>(_ a: UnsafeMutableBufferPointer<T>, _ i: Int, _ j: Int, _ k: Int, _ cmp: (T, T) -> Int) -> Int {
        cmp(a[i], a[j]) < 0
            ? (cmp(a[j], a[k]) < 0 ? j : (cmp(a[i], a[k]) < 0 ? k : i))
            : (cmp(a[j], a[k]) > 0 ? j : (cmp(a[i], a[k]) < 0 ? i : k))
    }

    /// Swaps n elements starting at i with n elements starting at j.
    private static func vecswap<T>(_ a: UnsafeMutableBufferPointer<T>, _ i: Int, _ j: Int, _ n: Int) {
        for k in 0..<max(0, n) { a.swapAt(i + k, j + k) }
    }

    private static func insertion<T>(_ a: UnsafeMutableBufferPointer<T>, _ start: Int, _ n: Int, _ cmp: (T, T) -> Int) {
        var m = start + 1
        while m < start + n {
            var l = m
            while l > start && cmp(a[l - 1], a[l]) > 0 {
                a.swapAt(l, l - 1)
                l -= 1
            }
            m += 1
        }
    }

    /// Sorts a[start..<start+n] as far as needed for positions lo...hi.
    private static func run<T>(_ a: UnsafeMutableBufferPointer<T>, _ start0: Int, _ n0: Int, lo: Int, hi: Int,
                               _ cmp: (T, T) -> Int) {
        var start = start0, n = n0
        while true {
            if n < 7 {
                insertion(a, start, n, cmp)
                return
            }
            var pm = start + n / 2
            if n > 7 {
                var pl = start
                var pn = start + n - 1
                if n > 40 {
                    let d = n / 8
                    pl = med3(a, pl, pl + d, pl + 2 * d, cmp)
                    pm = med3(a, pm - d, pm, pm + d, cmp)
                    pn = med3(a, pn - 2 * d, pn - d, pn, cmp)
                }
                pm = med3(a, pl, pm, pn, cmp)
            }
            a.swapAt(start, pm)
            var pa = start + 1, pb = start + 1
            var pc = start + n - 1, pd = start + n - 1
            while true {
                while pb <= pc {
                    let c = cmp(a[pb], a[start])
                    if c > 0 { break }
                    if c == 0 {
                        a.swapAt(pa, pb)
                        pa += 1
                    }
                    pb += 1
                }
                while pb <= pc {
                    let c = cmp(a[pc], a[start])
                    if c < 0 { break }
                    if c == 0 {
                        a.swapAt(pc, pd)
                        pd -= 1
                    }
                    pc -= 1
                }
                if pb > pc { break }
                a.swapAt(pb, pc)
                pb += 1
                pc -= 1
            }
            let pn = start + n
            var r = min(pa - start, pb - pa)
            vecswap(a, start, pb - r, r)
            r = min(pd - pc, pn - pd - 1)
            vecswap(a, pb, pn - r, r)
            // Recurse into the part below the pivot run, loop on the part above it, skipping parts
            // wholly outside lo...hi.
            r = pb - pa
            if r > 1 && !((lo < start && hi < start) || (lo >= start + r && hi >= start + r)) {
                run(a, start, r, lo: lo, hi: hi, cmp)
            }
            r = pd - pc
            if r > 1 {
                let s = pn - r
                if (lo < s && hi < s) || (lo >= s + r && hi >= s + r) { return }
                start = s
                n = r
                continue
            }
            return
        }
    }
}
