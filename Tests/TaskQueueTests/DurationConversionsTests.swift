import Testing

@testable import TaskQueue

@Suite struct DurationConversionsTests {
    @Test func secondsAndMillisecondsKeepTheFraction() {
        #expect(Duration.milliseconds(1500).seconds == 1.5)
        #expect(Duration.microseconds(2500).fractionalMilliseconds == 2.5)
        #expect(Duration.seconds(-2).seconds == -2)
        #expect((Duration.seconds(3) + .nanoseconds(1)).seconds > 3)
    }

    @Test func wholeMillisecondsRoundUp() {
        #expect(Duration.milliseconds(5).milliseconds == 5)
        #expect(Duration.microseconds(5001).milliseconds == 6)
        #expect(Duration.nanoseconds(1).milliseconds == 1)
        #expect(Duration.zero.milliseconds == 0)
    }

    @Test func wholeNanosecondsDropTheRest() {
        #expect(Duration.seconds(2).nanoseconds == 2_000_000_000)
        #expect((Duration.microseconds(3) + .nanoseconds(1) / 2).nanoseconds == 3000)
    }
}
