import Foundation
import Testing
@testable import TaskQueue

@Suite struct TaskIDTests {
    @Test func timeOrderedIDsAreVersion7WithTheirMillisecondsFirst() {
        let date = Date(timeIntervalSince1970: 1_790_000_000.125)
        let id = UUID.timeOrdered(at: date)
        let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        #expect(bytes[6] >> 4 == 7)
        #expect(bytes[8] >> 6 == 0b10)
        let milliseconds = bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(milliseconds == 1_790_000_000_125)
    }

    @Test func laterIDsSortAfterEarlierOnesAsPostgreSQLComparesThem() {
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        // One id per millisecond (mid-millisecond, so the conversion never lands on the one before);
        // ids made within one millisecond are in random order, which is fine for index locality.
        let ids = (0..<200).map { UUID.timeOrdered(at: start.addingTimeInterval((Double($0) + 0.5) / 1000)) }
        // PostgreSQL orders uuid bytewise, which the lowercase text form preserves.
        let texts = ids.map { $0.uuidString.lowercased() }
        #expect(texts == texts.sorted())
        #expect(Set(ids).count == ids.count)
    }
}
