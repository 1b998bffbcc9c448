import Testing

@testable import TaskQueue

@Suite struct DeliveryBufferTests {
    @Test func takesAsManyAsThereAreFreeSlotsHighestPriorityFirst() async {
        let buffer = DeliveryBuffer<String>(slots: 3, prefetchPerPriority: 10, starvationLimit: 16)
        #expect(await buffer.push(["l1", "l2"], priority: .low).isEmpty)
        #expect(await buffer.push(["h1"], priority: .high).isEmpty)
        #expect(await buffer.push(["n1", "n2"], priority: .normal).isEmpty)
        let first = await buffer.take()
        #expect(first.map(\.message) == ["h1", "n1", "n2"])
        #expect(first.map(\.priority) == [.high, .normal, .normal])
        // Every slot is held until released: the next take waits for one.
        await buffer.release(1)
        #expect(await buffer.take().map(\.message) == ["l1"])
    }

    @Test func aQueueHasRoomUpToItsPrefetch() async {
        let buffer = DeliveryBuffer<Int>(slots: 1, prefetchPerPriority: 4, starvationLimit: 16)
        #expect(await buffer.waitForRoom(.normal) == 4)
        _ = await buffer.push([1, 2, 3], priority: .normal)
        #expect(await buffer.waitForRoom(.normal) == 1)
        #expect(await buffer.waitForRoom(.high) == 4)
        #expect(await buffer.waiting() == [1, 2, 3])
    }

    @Test func aWaitingTakerIsServedByAPush() async {
        let buffer = DeliveryBuffer<Int>(slots: 2, prefetchPerPriority: 4, starvationLimit: 16)
        let taker = Task { await buffer.take() }
        try? await Task.sleep(for: .milliseconds(20))
        _ = await buffer.push([7], priority: .high)
        #expect(await taker.value.map(\.message) == [7])
    }

    @Test func closingReturnsWhatNeverStartedAndRefusesMore() async {
        let buffer = DeliveryBuffer<Int>(slots: 1, prefetchPerPriority: 4, starvationLimit: 16)
        _ = await buffer.push([1], priority: .low)
        _ = await buffer.push([2], priority: .high)
        #expect(await buffer.take().map(\.message) == [2])
        #expect(await buffer.close() == [1])
        #expect(await buffer.push([3], priority: .normal) == [3])
        #expect(await buffer.take().isEmpty)
        #expect(await buffer.waitForRoom(.normal) == 0)
    }
}
