/// Chooses which priority's message starts next: strictly the highest waiting priority, except
/// that a lower priority passed over `starvationLimit` times in a row gets the next turn, so a
/// steady stream of high-priority work cannot starve the rest forever.
struct PriorityPicker: Sendable {
    let starvationLimit: Int
    private(set) var passedOver: [Int] = [0, 0, 0]

    init(starvationLimit: Int) {
        self.starvationLimit = max(1, starvationLimit)
    }

    /// `waiting[i]` is true when priority rank `i` (0 = high) has messages; returns the rank to take.
    mutating func pick(waiting: [Bool]) -> Int? {
        guard let highest = waiting.firstIndex(of: true) else { return nil }
        var chosen = highest
        // The lowest starved priority goes first, so low is never stuck behind normal's turn.
        for rank in stride(from: waiting.count - 1, to: highest, by: -1)
        where waiting[rank] && passedOver[rank] >= starvationLimit {
            chosen = rank
            break
        }
        for rank in waiting.indices where waiting[rank] {
            passedOver[rank] = rank == chosen ? 0 : passedOver[rank] + 1
        }
        return chosen
    }
}
