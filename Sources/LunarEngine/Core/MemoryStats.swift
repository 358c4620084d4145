import CJemalloc

/// Memory figures for INFO memory and MEMORY STATS, read from jemalloc (Lunar's allocator, as Redis's).
public enum MemoryStats {
    /// Applies Lunar's allocator settings (called once at startup).
    public static func tuneAllocator() { cjemalloc_tune() }
    /// Bytes allocated by the server (Redis's used_memory).
    public static func allocated() -> Int { Int(cjemalloc_allocated()) }
    /// Bytes in resident allocator pages.
    public static func resident() -> Int { Int(cjemalloc_resident()) }
    /// Resident set size of the process from /proc (Redis's used_memory_rss).
    public static func rss() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        guard withUnsafeMutablePointer(to: &size, { s in
            withUnsafeMutablePointer(to: &resident) { r in
                readStatm(f, s, r)
            }
        }) else { return 0 }
        return resident * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func readStatm(_ f: UnsafeMutablePointer<FILE>, _ s: UnsafeMutablePointer<Int>, _ r: UnsafeMutablePointer<Int>) -> Bool {
        var buf = [CChar](repeating: 0, count: 256)
        guard fgets(&buf, 256, f) != nil else { return false }
        let parts = String(cString: buf).split(separator: " ")
        guard parts.count >= 2 else { return false }
        s.pointee = Int(parts[0]) ?? 0
        r.pointee = Int(parts[1]) ?? 0
        return true
    }
}

#if canImport(Glibc)
import Glibc
#endif
