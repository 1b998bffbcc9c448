/// Waits until any of the signals fires (or the task is cancelled).
func firstOf(_ signals: Signal...) async {
    await withTaskGroup(of: Void.self) { group in
        for signal in signals { group.addTask { await signal.wait() } }
        await group.next()
        group.cancelAll()
    }
}

/// Sleeps for `duration` unless `signal` fires first; returns true when the signal fired.
func sleep(for duration: Duration, unless signal: Signal) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await signal.wait()
            return true
        }
        group.addTask {
            try? await Task.sleep(for: duration)
            return false
        }
        let fired = await group.next() ?? false
        group.cancelAll()
        return fired || signal.isFired
    }
}
