import Testing

@testable import TaskQueue

@Suite struct PriorityPickerTests {
    @Test func highestWaitingPriorityGoesFirst() {
        var picker = PriorityPicker(starvationLimit: 16)
        #expect(picker.pick(waiting: [true, true, true]) == 0)
        #expect(picker.pick(waiting: [false, true, true]) == 1)
        #expect(picker.pick(waiting: [false, false, true]) == 2)
        #expect(picker.pick(waiting: [false, false, false]) == nil)
    }

    @Test func aLowPriorityPassedOverTooOftenGetsATurn() {
        var picker = PriorityPicker(starvationLimit: 4)
        var picks: [Int] = []
        for _ in 0..<15 { picks.append(picker.pick(waiting: [true, true, true])!) }
        // After four passes a starved priority is served, the lowest first; normal, passed over
        // just as often, comes right after.
        #expect(picks == [0, 0, 0, 0, 2, 1, 0, 0, 0, 2, 1, 0, 0, 0, 2])
    }

    @Test func aNewHighTaskIsNextEvenAfterALongLowRun() {
        var picker = PriorityPicker(starvationLimit: 16)
        for _ in 0..<100 { #expect(picker.pick(waiting: [false, false, true]) == 2) }
        #expect(picker.pick(waiting: [true, false, true]) == 0)
    }
}
