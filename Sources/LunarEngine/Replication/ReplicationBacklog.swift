/// The replication backlog: a ring buffer with the most recent bytes of the replication stream, so a
/// replica that lost its link can continue from its offset (PSYNC → +CONTINUE) instead of a full sync.
///
/// Offsets follow Redis's numbering: the stream's first byte ever has offset 1, and `endOffset` is the
/// master's replication offset (the offset of the last byte written).
final class ReplicationBacklog {
    private(set) var capacity: Int
    private var storage: [UInt8]
    /// Where the next byte goes in `storage`.
    private var head = 0
    /// How many bytes of history are held (at most `capacity`).
    private(set) var histlen = 0
    private(set) var endOffset: Int64

    /// A backlog created when the master's offset is `offset`: the next byte fed gets `offset + 1`.
    init(capacity: Int, offset: Int64) {
        self.capacity = max(1, capacity)
        self.storage = []
        self.endOffset = offset
    }

    /// Offset of the oldest byte held (one past `endOffset` while empty).
    var firstOffset: Int64 { endOffset - Int64(histlen) + 1 }

    func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if n == 0 { return }
        endOffset += Int64(n)
        if storage.count < capacity { storage = [UInt8](repeating: 0, count: capacity) }
        var src = bytes
        // Only the last `capacity` bytes can survive.
        if n > capacity { src = UnsafeRawBufferPointer(rebasing: bytes[(n - capacity)...]) }
        var i = 0
        storage.withUnsafeMutableBytes { dst in
            while i < src.count {
                let chunk = min(src.count - i, capacity - head)
                dst.baseAddress!.advanced(by: head).copyMemory(from: src.baseAddress!.advanced(by: i), byteCount: chunk)
                head = (head + chunk) % capacity
                i += chunk
            }
        }
        histlen = min(capacity, histlen + n)
    }

    /// True if the stream from `offset` (the next byte a replica wants) up to now is held.
    func covers(_ offset: Int64) -> Bool {
        offset >= firstOffset && offset <= endOffset + 1
    }

    /// The bytes from `offset` to the end; `covers(offset)` must hold.
    func bytes(from offset: Int64) -> [UInt8] {
        let n = Int(endOffset - offset + 1)
        if n <= 0 { return [] }
        var out = [UInt8]()
        out.reserveCapacity(n)
        var pos = (head - n + capacity) % capacity
        var left = n
        while left > 0 {
            let chunk = min(left, capacity - pos)
            out.append(contentsOf: storage[pos..<(pos + chunk)])
            pos = (pos + chunk) % capacity
            left -= chunk
        }
        return out
    }

    /// Changes the size (CONFIG SET repl-backlog-size), keeping as much recent history as fits.
    func resize(_ newCapacity: Int) {
        let newCapacity = max(1, newCapacity)
        if newCapacity == capacity { return }
        let keep = bytes(from: endOffset - Int64(min(histlen, newCapacity)) + 1)
        let end = endOffset
        capacity = newCapacity
        storage = []
        head = 0
        histlen = 0
        endOffset = end - Int64(keep.count)
        keep.withUnsafeBytes { append($0) }
    }
}
