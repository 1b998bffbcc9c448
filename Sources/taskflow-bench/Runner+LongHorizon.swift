import Foundation

/// What the long-horizon scenarios (history, longtx, soak) share.
extension Runner {
    /// Worker settings that keep every finished task: the history scenario measures reads over the
    /// history it loaded, so the pruner must not delete the 30 days of it while it runs.
    static let keepFinishedTasks = ["TASK_RETENTION_COMPLETED": "0", "TASK_RETENTION_FAILED": "0", "TASK_RETENTION_CANCELLED": "0"]

    /// A SQL uuid literal below every time-ordered task id made at or after `epochSeconds`
    /// (the id's first 48 bits are Unix milliseconds): windows on `created_at` also bound the
    /// primary key with it, so they read the window's part of the index instead of the table.
    static func idBound(epochSeconds: Double) -> String {
        let milliseconds = UInt64(max(0, (epochSeconds * 1000).rounded(.down)))
        return "'" + String(milliseconds, radix: 16).leftPadded(to: 12) + String(repeating: "0", count: 20) + "'::uuid"
    }

    /// `created_at` in the window from `from` to `to` (seconds since 1970), for tasks of the
    /// scenario's own stack: ids and `created_at` come from clocks of the same machine, a second
    /// of slack covers the enqueuing process taking its id before the row gets its timestamp.
    static func createdBetween(_ from: Double, _ to: Double, alias: String = "t") -> String {
        """
        \(alias).id >= \(idBound(epochSeconds: from - 1)) AND \(alias).id < \(idBound(epochSeconds: to + 1))
        AND \(alias).created_at >= to_timestamp(\(from)) AND \(alias).created_at < to_timestamp(\(to))
        """
    }
}

extension String {
    /// The string with zeros in front up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
