import Foundation

/// CPU time spent by each kind of process on this machine between two moments, from `/proc`.
/// On a shared VM throughput moves by ±15% from run to run; CPU time per task moves much less,
/// so it tells where the time goes and whether a change made the work cheaper.
struct CPUSnapshot {
    /// Cumulative user + system seconds per process id, with the process's name and start time
    /// (seconds after boot).
    var processes: [Int32: (name: String, seconds: Double, started: Double)]
    /// Seconds after boot when the snapshot was taken.
    var uptime: Double
    /// Machine totals from /proc/stat, in seconds: all busy time, and time stolen by the hypervisor.
    var busy: Double
    var steal: Double
    var elapsed: ContinuousClock.Instant

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func now() -> CPUSnapshot {
        let uptime =
            (try? String(contentsOfFile: "/proc/uptime", encoding: .utf8))
            .flatMap { $0.split(separator: " ").first.flatMap { Double($0) } } ?? 0
        var processes: [Int32: (name: String, seconds: Double, started: Double)] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8) else { continue }
            // "pid (name) state ppid ..."; the name may hold spaces and parentheses, so split at the last ")".
            guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = String(stat[stat.index(after: open)..<close])
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // After the name: state is field 0, utime 11, stime 12, starttime 19 (ticks after boot).
            guard fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]),
                let started = Double(fields[19])
            else { continue }
            processes[pid] = (name, (user + system) / ticksPerSecond, started / ticksPerSecond)
        }
        var busy = 0.0
        var steal = 0.0
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        {
            // cpu user nice system idle iowait irq softirq steal ...
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if values.count >= 8 {
                busy = (values[0] + values[1] + values[2] + values[5] + values[6]) / ticksPerSecond
                steal = values[7] / ticksPerSecond
            }
        }
        return CPUSnapshot(processes: processes, uptime: uptime, busy: busy, steal: steal, elapsed: .now)
    }

    /// CPU seconds per process group since `earlier`. A process that started in between counts
    /// from zero; one that ended in between is missing (phases are measured while all live).
    func since(_ earlier: CPUSnapshot) -> CPUUsage {
        var byGroup: [String: Double] = [:]
        for (pid, process) in processes {
            let before: Double
            if let old = earlier.processes[pid], old.started == process.started {
                before = old.seconds
            } else if process.started >= earlier.uptime - 0.02 {
                before = 0
            } else {
                continue  // there before but not seen then (it was being created): its share is unknown
            }
            let delta = process.seconds - before
            guard delta > 0 else { continue }
            byGroup[CPUUsage.group(process.name), default: 0] += delta
        }
        return CPUUsage(
            seconds: (elapsed - earlier.elapsed).seconds,
            byGroup: byGroup,
            machineBusy: busy - earlier.busy,
            steal: steal - earlier.steal
        )
    }
}

struct CPUUsage: Codable {
    /// Wall-clock seconds of the phase.
    var seconds: Double
    /// CPU seconds by process group: postgres, nats-server, worker, api, bench, other.
    var byGroup: [String: Double]
    /// CPU seconds the whole machine was busy, and seconds the hypervisor took away.
    var machineBusy: Double
    var steal: Double

    static func group(_ name: String) -> String {
        switch name {
        case "postgres", "nats-server", "worker", "api": name
        case "taskflow-bench": "bench"
        default: "other"
        }
    }

    /// CPU microseconds per task by group, for the table.
    func microsecondsPerTask(_ tasks: Int) -> [String: Double] {
        byGroup.mapValues { $0 * 1_000_000 / Double(max(tasks, 1)) }
    }

    /// "postgres 98, worker 61, …" in µs per unit of work, largest first.
    func summary(per units: Int) -> String {
        let parts = microsecondsPerTask(units).sorted { $0.value > $1.value }.map { "\($0.key) \(Int($0.value.rounded()))" }
        let stolen = seconds > 0 ? String(format: "; steal %.0f%%", 100 * steal / (seconds * Double(ProcessInfo.processInfo.activeProcessorCount))) : ""
        return parts.joined(separator: ", ") + stolen
    }
}
