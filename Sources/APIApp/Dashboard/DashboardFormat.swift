import Foundation
import TaskQueue

/// How the dashboard writes numbers, times and payloads.
enum DashboardFormat {
    /// 1234567 as "1,234,567".
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A duration as "0.8 ms", "12 ms", "1.4 s" or "3.2 min".
    static func duration(_ d: Duration?) -> String {
        guard let d else { return "–" }
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        switch seconds {
        case ..<0.01: return String(format: "%.1f ms", seconds * 1000)
        case ..<1: return String(format: "%.0f ms", seconds * 1000)
        case ..<120: return String(format: "%.1f s", seconds)
        default: return String(format: "%.1f min", seconds / 60)
        }
    }

    static func milliseconds(_ ms: Double?) -> String {
        guard let ms else { return "–" }
        return duration(.milliseconds(ms))
    }

    private static let timestampFormat: Date.ISO8601FormatStyle = .iso8601

    /// A UTC timestamp as "2026-12-06 11:22:33Z".
    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        return date.formatted(timestampFormat).replacingOccurrences(of: "T", with: " ")
    }

    /// How long ago, as "4 s ago".
    static func ago(_ date: Date, now: Date = Date()) -> String {
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<120: return "\(seconds) s ago"
        case ..<7200: return "\(seconds / 60) min ago"
        default: return "\(seconds / 3600) h ago"
        }
    }

    /// A `datetime-local` field's value (read as UTC), or an RFC 3339 timestamp.
    static func parseTime(_ text: String) -> Date? {
        if let date = CreateTaskRequest.parseTimestamp(text) { return date }
        let withSeconds = text.count == 16 ? text + ":00" : text
        return CreateTaskRequest.parseTimestamp(withSeconds + "Z")
    }

    /// JSON text indented two spaces per level, keys in their stored order; text that is not an
    /// object or array is returned as it is.
    static func prettyJSON(_ text: String) -> String {
        guard let first = text.first(where: { !$0.isWhitespace }), first == "{" || first == "[" else { return text }
        var out = ""
        var depth = 0
        var inString = false
        var escaped = false
        func newline() { out.append("\n" + String(repeating: "  ", count: depth)) }
        let characters = Array(text)
        for (index, character) in characters.enumerated() {
            if inString {
                out.append(character)
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
                continue
            }
            switch character {
            case "\"":
                inString = true
                out.append(character)
            case "{", "[":
                out.append(character)
                let next = characters[(index + 1)...].first { !$0.isWhitespace }
                depth += 1
                if next != "}" && next != "]" { newline() }
            case "}", "]":
                depth = max(0, depth - 1)
                if let last = out.last(where: { !$0.isWhitespace }), last != "{" && last != "[" { newline() }
                out.append(character)
            case ",":
                out.append(character)
                newline()
            case ":":
                out.append(": ")
            case " ", "\n", "\t", "\r":
                continue
            default:
                out.append(character)
            }
        }
        return out
    }
}
