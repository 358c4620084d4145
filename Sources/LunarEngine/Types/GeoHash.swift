#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Geohashes as Redis's GEO commands use them: a point's longitude and latitude, each cut into 2^26
/// steps, interleaved into a 52-bit integer that is the member's score in a sorted set. Searches
/// cover the area with the cell of the center and its eight neighbours at a coarser step, read the
/// score ranges of those cells and keep the points whose distance fits.
///
/// Every computation follows Redis 7.0's order of floating-point operations (and uses the same libm),
/// so which points fall inside a search, their distances and their decoded coordinates are the
/// same to the last bit.
enum GeoHash {
    static let stepMax = 26
    static let lonMin = -180.0, lonMax = 180.0
    static let latMin = -85.05112878, latMax = 85.05112878
    static let earthRadius = 6372797.560856
    static let mercatorMax = 20037726.37
    static let degToRad = Double.pi / 180.0

    /// Hash bits and their precision (`step` bits per coordinate). Step 0 with bits 0 marks a
    /// neighbour cell dropped from a search.
    struct Bits: Equatable {
        var bits: UInt64
        var step: Int
        static let zero = Bits(bits: 0, step: 0)
        var isZero: Bool { bits == 0 && step == 0 }
    }

    struct Range { var min: Double; var max: Double }
    struct Area { var hash: Bits; var longitude: Range; var latitude: Range }

    // MARK: Bit interleaving

    /// Spreads the 32 bits of `v` to the even bit positions of a 64-bit word.
    @inline(__always) private static func spread(_ v: UInt32) -> UInt64 {
        var x = UInt64(v)
        x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF
        x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF
        x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F
        x = (x | (x << 2)) & 0x3333_3333_3333_3333
        x = (x | (x << 1)) & 0x5555_5555_5555_5555
        return x
    }

    /// Gathers the even bits of `x` into 32 bits.
    @inline(__always) private static func squash(_ v: UInt64) -> UInt32 {
        var x = v & 0x5555_5555_5555_5555
        x = (x | (x >> 1)) & 0x3333_3333_3333_3333
        x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F
        x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF
        x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF
        x = (x | (x >> 16)) & 0x0000_0000_FFFF_FFFF
        return UInt32(x)
    }

    /// Latitude in the even bits, longitude in the odd ones.
    static func interleave(lat: UInt32, lon: UInt32) -> UInt64 { spread(lat) | (spread(lon) << 1) }

    /// (latitude part, longitude part) of interleaved bits.
    static func deinterleave(_ bits: UInt64) -> (lat: UInt32, lon: UInt32) { (squash(bits), squash(bits >> 1)) }

    /// A double to an unsigned 64-bit integer the way C on x86-64 converts one: truncation, negative
    /// values wrapping around, values out of range giving what the SSE conversion gives. Scores of
    /// members added with ZADD can be anything, and Redis decodes them this way.
    static func cToUInt64(_ d: Double) -> UInt64 {
        let two63 = 9223372036854775808.0
        func cvtt(_ x: Double) -> UInt64 {
            // cvttsd2si: the "integer indefinite" value for NaN and out-of-range inputs.
            guard x.isFinite, x > -two63 - 1, x < two63 else { return 0x8000_0000_0000_0000 }
            return UInt64(bitPattern: Int64(x))
        }
        if d < two63 { return cvtt(d) }
        return cvtt(d - two63) ^ 0x8000_0000_0000_0000
    }

    /// A double in [0, 2^32) to the uint32_t C would make of it (truncation).
    @inline(__always) private static func toUInt32(_ d: Double) -> UInt32 {
        UInt32(truncatingIfNeeded: cToUInt64(d))
    }

    // MARK: Encoding and decoding

    /// The hash of a point at `step` bits per coordinate within the given ranges; nil when the point
    /// lies outside them (or outside Redis's limits).
    static func encode(lon: Double, lat: Double, step: Int,
                       lonRange: Range = Range(min: lonMin, max: lonMax),
                       latRange: Range = Range(min: latMin, max: latMax)) -> Bits? {
        if step > 32 || step == 0 { return nil }
        if lon > lonMax || lon < lonMin || lat > latMax || lat < latMin { return nil }
        if lat < latRange.min || lat > latRange.max || lon < lonRange.min || lon > lonRange.max { return nil }
        var latOffset = (lat - latRange.min) / (latRange.max - latRange.min)
        var lonOffset = (lon - lonRange.min) / (lonRange.max - lonRange.min)
        let scale = Double(UInt64(1) << UInt64(step))
        latOffset *= scale
        lonOffset *= scale
        return Bits(bits: interleave(lat: toUInt32(latOffset), lon: toUInt32(lonOffset)), step: step)
    }

    /// The cell a hash stands for.
    static func decode(_ hash: Bits) -> Area {
        let (ilat, ilon) = deinterleave(hash.bits)
        let latScale = latMax - latMin
        let lonScale = lonMax - lonMin
        let div = Double(UInt64(1) << UInt64(hash.step))
        // (x + 1) wraps as a uint32_t does in C.
        return Area(
            hash: hash,
            longitude: Range(min: lonMin + (Double(ilon) * 1.0 / div) * lonScale,
                             max: lonMin + (Double(ilon &+ 1) * 1.0 / div) * lonScale),
            latitude: Range(min: latMin + (Double(ilat) * 1.0 / div) * latScale,
                            max: latMin + (Double(ilat &+ 1) * 1.0 / div) * latScale))
    }

    /// The center of a cell, kept within Redis's limits.
    static func center(of area: Area) -> (lon: Double, lat: Double) {
        var lon = (area.longitude.min + area.longitude.max) / 2
        lon = Swift.min(Swift.max(lon, lonMin), lonMax)
        var lat = (area.latitude.min + area.latitude.max) / 2
        lat = Swift.min(Swift.max(lat, latMin), latMax)
        return (lon, lat)
    }

    /// The point a member's score stands for (a 52-bit hash, step 26).
    static func decodeScore(_ score: Double) -> (lon: Double, lat: Double) {
        center(of: decode(Bits(bits: cToUInt64(score), step: stepMax)))
    }

    /// The score a point is stored with.
    static func score(lon: Double, lat: Double) -> UInt64? {
        encode(lon: lon, lat: lat, step: stepMax).map(align52)
    }

    /// Hash bits shifted so that any step compares with 52-bit scores.
    static func align52(_ h: Bits) -> UInt64 { h.bits << UInt64(52 - h.step * 2) }

    /// The standard 11-character geohash of a stored point (Redis re-encodes with latitude -90…90;
    /// the 11th character stands for bits it does not have and is always '0').
    static func geohashString(score: Double) -> [UInt8] {
        let (lon, lat) = decodeScore(score)
        let h = encode(lon: lon, lat: lat, step: stepMax,
                       lonRange: Range(min: -180, max: 180), latRange: Range(min: -90, max: 90))?.bits ?? 0
        let alphabet = Array("0123456789bcdefghjkmnpqrstuvwxyz".utf8)
        var out: [UInt8] = []
        for i in 0..<11 {
            let idx = i == 10 ? 0 : Int((h >> UInt64(52 - (i + 1) * 5)) & 0x1f)
            out.append(alphabet[idx])
        }
        return out
    }

    // MARK: Neighbours

    /// Moves a hash one cell east (+1) or west (-1): the longitude bits are the odd ones.
    private static func moveX(_ h: inout Bits, _ d: Int) {
        if d == 0 { return }
        var x = h.bits & 0xaaaa_aaaa_aaaa_aaaa
        let y = h.bits & 0x5555_5555_5555_5555
        let zz: UInt64 = 0x5555_5555_5555_5555 >> UInt64(64 - h.step * 2)
        if d > 0 {
            x = x &+ (zz &+ 1)
        } else {
            x = x | zz
            x = x &- (zz &+ 1)
        }
        x &= 0xaaaa_aaaa_aaaa_aaaa >> UInt64(64 - h.step * 2)
        h.bits = x | y
    }

    /// Moves a hash one cell north (+1) or south (-1): the latitude bits are the even ones.
    private static func moveY(_ h: inout Bits, _ d: Int) {
        if d == 0 { return }
        let x = h.bits & 0xaaaa_aaaa_aaaa_aaaa
        var y = h.bits & 0x5555_5555_5555_5555
        let zz: UInt64 = 0xaaaa_aaaa_aaaa_aaaa >> UInt64(64 - h.step * 2)
        if d > 0 {
            y = y &+ (zz &+ 1)
        } else {
            y = y | zz
            y = y &- (zz &+ 1)
        }
        y &= 0x5555_5555_5555_5555 >> UInt64(64 - h.step * 2)
        h.bits = x | y
    }

    private static func moved(_ h: Bits, _ dx: Int, _ dy: Int) -> Bits {
        var n = h
        moveX(&n, dx)
        moveY(&n, dy)
        return n
    }

    // MARK: Distances

    @inline(__always) static func toRad(_ d: Double) -> Double { d * degToRad }
    @inline(__always) static func toDeg(_ r: Double) -> Double { r / degToRad }

    /// Haversine distance in meters on Redis's sphere. On a common meridian Redis 7.0 takes the
    /// latitude difference instead (not the same bits as the full formula, hence kept).
    static func distance(lon1: Double, lat1: Double, lon2: Double, lat2: Double) -> Double {
        let lon1r = toRad(lon1), lon2r = toRad(lon2)
        let v = sin((lon2r - lon1r) / 2)
        if v == 0.0 { return earthRadius * abs(toRad(lat2) - toRad(lat1)) }
        let lat1r = toRad(lat1), lat2r = toRad(lat2)
        let u = sin((lat2r - lat1r) / 2)
        return 2.0 * earthRadius * asin(sqrt(u * u + cos(lat1r) * cos(lat2r) * v * v))
    }

    // MARK: Search areas

    enum Shape {
        case radius(Double)                       // in the request's unit
        case box(width: Double, height: Double)   // in the request's unit
    }

    /// A search: its center, its shape, and the unit's size in meters.
    struct Search {
        var lon: Double
        var lat: Double
        var shape: Shape
        var toMeters: Double

        /// The distance from the center (meters) if the point is inside the shape.
        func distanceIfInside(lon plon: Double, lat plat: Double) -> Double? {
            switch shape {
            case let .radius(r):
                let d = GeoHash.distance(lon1: lon, lat1: lat, lon2: plon, lat2: plat)
                return d > r * toMeters ? nil : d
            case let .box(w, h):
                // East-west along the point's parallel, north-south along its meridian.
                let lonDistance = GeoHash.distance(lon1: plon, lat1: plat, lon2: lon, lat2: plat)
                let latDistance = GeoHash.distance(lon1: plon, lat1: plat, lon2: plon, lat2: lat)
                if lonDistance > w * toMeters / 2 || latDistance > h * toMeters / 2 { return nil }
                return GeoHash.distance(lon1: lon, lat1: lat, lon2: plon, lat2: plat)
            }
        }
    }

    /// The cell precision for a search of this radius (meters) around this latitude.
    static func estimateStep(radiusMeters: Double, lat: Double) -> Int {
        if radiusMeters == 0 { return 26 }
        var range = radiusMeters
        var step = 1
        while range < mercatorMax {
            range *= 2
            step += 1
        }
        step -= 2   // so the range is covered in most cases
        // Meridians converge towards the poles: use bigger cells there.
        if lat > 66 || lat < -66 {
            step -= 1
            if lat > 80 || lat < -80 { step -= 1 }
        }
        return Swift.min(Swift.max(step, 1), 26)
    }

    /// (min lon, min lat, max lon, max lat) of the area a search covers. Parallels shrink towards
    /// the poles, so the wider edge (north in the northern hemisphere) decides the longitudes.
    static func boundingBox(_ s: Search) -> (Double, Double, Double, Double) {
        let height: Double, width: Double
        switch s.shape {
        case let .radius(r):
            height = s.toMeters * r
            width = s.toMeters * r
        case let .box(w, h):
            height = s.toMeters * (h / 2)
            width = s.toMeters * (w / 2)
        }
        let latDelta = toDeg(height / earthRadius)
        let lonDeltaTop = toDeg(width / earthRadius / cos(toRad(s.lat + latDelta)))
        let lonDeltaBottom = toDeg(width / earthRadius / cos(toRad(s.lat - latDelta)))
        let south = s.lat < 0
        return (south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop,
                s.lat - latDelta,
                south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop,
                s.lat + latDelta)
    }

    /// The nine cells to read for a search, in Redis's order (center, N, S, E, W, NE, NW, SE, SW);
    /// cells that cannot hold results come back as `.zero`.
    static func searchCells(_ s: Search) -> [Bits] {
        let (minLon, minLat, maxLon, maxLat) = boundingBox(s)
        var radiusMeters: Double
        switch s.shape {
        case let .radius(r): radiusMeters = r
        case let .box(w, h): radiusMeters = sqrt((w / 2) * (w / 2) + (h / 2) * (h / 2))
        }
        radiusMeters *= s.toMeters
        var step = estimateStep(radiusMeters: radiusMeters, lat: s.lat)

        func cells(_ step: Int) -> (Bits, [Bits], Area) {
            let h = encode(lon: s.lon, lat: s.lat, step: step) ?? Bits(bits: 0, step: step)
            // north, south, east, west, north-east, north-west, south-east, south-west
            let n = [moved(h, 0, 1), moved(h, 0, -1), moved(h, 1, 0), moved(h, -1, 0),
                     moved(h, 1, 1), moved(h, -1, 1), moved(h, 1, -1), moved(h, -1, -1)]
            return (h, n, decode(h))
        }
        var (hash, nb, area) = cells(step)

        // Where the area reaches past a neighbour cell, the cells are too small: one step coarser.
        let north = decode(nb[0]), south = decode(nb[1]), east = decode(nb[2]), west = decode(nb[3])
        let tooSmall = north.latitude.max < maxLat || south.latitude.min > minLat
            || east.longitude.max < maxLon || west.longitude.min > minLon
        if step > 1 && tooSmall {
            step -= 1
            (hash, nb, area) = cells(step)
        }

        // Drop the neighbours on a side the area does not reach.
        if step >= 2 {
            if area.latitude.min < minLat { for i in [1, 6, 7] { nb[i] = .zero } }
            if area.latitude.max > maxLat { for i in [0, 4, 5] { nb[i] = .zero } }
            if area.longitude.min < minLon { for i in [3, 7, 5] { nb[i] = .zero } }
            if area.longitude.max > maxLon { for i in [2, 6, 4] { nb[i] = .zero } }
        }
        return [hash] + nb
    }
}
