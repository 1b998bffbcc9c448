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
        // One id per millisecond (mid-millisecond, so the conversion never lands on the one before).
        let ids = (0..<200).map { UUID.timeOrdered(at: start.addingTimeInterval((Double($0) + 0.5) / 1000)) }
        // PostgreSQL orders uuid bytewise, which the lowercase text form preserves.
        let texts = ids.map { $0.uuidString.lowercased() }
        #expect(texts == texts.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test func idsMadeInOneProcessAscendStrictlyEvenWithinAMillisecond() {
        // Listings are ordered by id, so ids made one after another must sort in that order.
        var ids: [UUID] = []
        for _ in 0..<2000 { ids.append(UUID.timeOrdered()) }
        ids += UUID.timeOrdered(count: 5000)  // more than the 4096 counter values of one millisecond
        ids.append(UUID.timeOrdered())
        let texts = ids.map(\.lowercasedText)
        #expect(texts == texts.sorted())
        #expect(Set(texts).count == texts.count)
        #expect(ids == ids.sorted(by: UUID.postgresOrder))
    }

    @Test func manyIDsAtOnceAreDistinctVersion7IDs() {
        let ids = UUID.timeOrdered(count: 1000)
        #expect(Set(ids).count == 1000)
        for id in ids {
            let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7 && bytes[8] >> 6 == 0b10)
        }
        // Bytes 9-15 are random: 56 bits, practically never the same twice in a thousand.
        let tails = Set(ids.map { id in withUnsafeBytes(of: id.uuid) { Array($0[9..<16]) } })
        #expect(tails.count == 1000)
        #expect(UUID.timeOrdered(count: 0).isEmpty)
    }

    @Test func textFormMatchesFoundationAndParsesBack() {
        for id in [
            UUID.timeOrdered(), UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)),
        ] + (0..<200).map({ _ in UUID() }) {
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(canonicalText: id.lowercasedText) == id)
            #expect(UUID(canonicalText: id.uuidString) == id)
        }
        let bad = [
            "", "not-a-uuid", "01a2085d-a87b-77fb-8e53-11638f6e2e8", "01a2085d-a87b-77fb-8e53-11638f6e2e844",
            "01a2085da87b-77fb-8e53-11638f6e2e84-", "01a2085d-a87b-77fb-8e53-11638f6e2e8g", "{01a2085d-a87b-77fb-8e53-11638f6e2e84}",
        ]
        for text in bad { #expect(UUID(canonicalText: text) == nil, "\(text)") }
    }
}
