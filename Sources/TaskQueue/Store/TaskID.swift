import Foundation
import Synchronization

extension UUID {
    /// A version 7 UUID (RFC 9562): 48 bits of Unix milliseconds, a 12-bit counter, then random
    /// bits. Task ids made this way arrive in ascending order, so new rows land on the right-hand
    /// pages of the primary-key and execution indexes, and id order is creation order: within
    /// one process strictly (the counter orders ids made in the same millisecond, and the clock
    /// never appears to go back), across processes to the millisecond.
    static func timeOrdered() -> UUID {
        timeOrdered(count: 1)[0]
    }

    /// `count` version 7 UUIDs in strictly ascending order, after every id this process made before.
    static func timeOrdered(count: Int) -> [UUID] {
        guard count > 0 else { return [] }
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let start = lastIssued.withLock { last -> UInt64 in
            // Position = milliseconds × 4096 + counter; take the next `count` positions.
            let first = max(now << 12, last &+ 1)
            last = first + UInt64(count) - 1
            return first
        }
        return make(count: count, firstPosition: start)
    }

    /// Ids for a given moment (counter from zero), outside the process's sequence: for tests.
    static func timeOrdered(at date: Date) -> UUID {
        make(count: 1, firstPosition: UInt64(max(0, date.timeIntervalSince1970 * 1000)) << 12)[0]
    }

    /// The smallest time-ordered id of `date`'s millisecond: every id made before `date` is
    /// smaller (the pruner's bound along the primary key).
    static func timeOrderedLowerBound(at date: Date) -> UUID {
        let high = UInt64(max(0, date.timeIntervalSince1970 * 1000)) << 16
        return withUnsafeBytes(of: (high.bigEndian, UInt64(0))) { UUID(uuid: $0.load(as: uuid_t.self)) }
    }

    /// The last position (milliseconds << 12 | counter) handed out by this process.
    private static let lastIssued = Mutex<UInt64>(0)

    private static func make(count: Int, firstPosition: UInt64) -> [UUID] {
        var random = [UInt64](repeating: 0, count: count)
        random.withUnsafeMutableBytes(fillRandom)
        return (0..<count).map { index in
            let position = firstPosition + UInt64(index)
            // 48 bits of milliseconds, version 7, the 12-bit counter; then the RFC 9562 variant
            // and 62 random bits.
            let high = (position >> 12) << 16 | 0x7000 | (position & 0xFFF)
            let low = random[index] & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
            return withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { UUID(uuid: $0.load(as: uuid_t.self)) }
        }
    }

    /// Fills `buffer` from the C library's cryptographic generator in one call (the standard
    /// generator asks the kernel for 8 bytes at a time: a system call per id).
    private static func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        arc4random_buf(base, buffer.count)
    }

    /// PostgreSQL's uuid order: bytewise, as `memcmp` compares them.
    static func postgresOrder(_ lhs: UUID, _ rhs: UUID) -> Bool {
        withUnsafeBytes(of: lhs.uuid) { left in
            withUnsafeBytes(of: rhs.uuid) { right in
                for index in 0..<16 where left[index] != right[index] { return left[index] < right[index] }
                return false
            }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The canonical lowercase form (`01a2085d-a87b-77fb-8e53-11638f6e2e84`), as PostgreSQL prints
    /// a uuid and the API shows task ids. Written directly: Foundation's `uuidString` formats
    /// through `sprintf`.
    public var lowercasedText: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { output in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        output[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    output[position] = Self.hexDigits[Int(byte >> 4)]
                    output[position + 1] = Self.hexDigits[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }

    /// Parses the canonical 8-4-4-4-12 hex form in either case; nil for anything else.
    init?(canonicalText text: String) {
        // Accumulated into two words rather than a byte array: no allocation per parsed id.
        var high: UInt64 = 0
        var low: UInt64 = 0
        var nibbles = 0
        var position = 0
        for character in text.utf8 {
            defer { position += 1 }
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard nibbles < 32 else { return nil }
            if nibbles < 16 {
                high = high << 4 | UInt64(nibble)
            } else {
                low = low << 4 | UInt64(nibble)
            }
            nibbles += 1
        }
        guard position == 36, nibbles == 32 else { return nil }
        func byte(_ word: UInt64, _ index: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: word >> (56 - 8 * index)) }
        self.init(
            uuid: (
                byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3), byte(high, 4), byte(high, 5),
                byte(high, 6), byte(high, 7), byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3),
                byte(low, 4), byte(low, 5), byte(low, 6), byte(low, 7)
            ))
    }
}
