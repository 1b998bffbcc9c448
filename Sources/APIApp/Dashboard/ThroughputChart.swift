import Foundation
import TaskQueue

/// The overview's chart: tasks completed and failed per second over the last 15 minutes, as SVG
/// drawn here (no chart library), one point per step of the series.
enum ThroughputChart {
    static let width = 720.0
    static let height = 180.0
    static let left = 48.0
    static let bottom = 22.0
    static let top = 10.0

    static func svg(_ series: FinishedSeries) -> String {
        let stepSeconds = max(1.0, Double(series.step.components.seconds))
        let completed = series.completed.map { Double($0) / stepSeconds }
        let failed = series.failed.map { Double($0) / stepSeconds }
        let peak = max(completed.max() ?? 0, failed.max() ?? 0)
        let scale = niceCeiling(peak)
        let plotWidth = width - left - 8
        let plotHeight = height - top - bottom
        func points(_ values: [Double]) -> String {
            guard values.count > 1 else { return "" }
            return values.enumerated().map { index, value in
                let x = left + plotWidth * Double(index) / Double(values.count - 1)
                let y = top + plotHeight * (1 - value / scale)
                return String(format: "%.1f,%.1f", x, y)
            }.joined(separator: " ")
        }
        let latest = completed.last ?? 0
        let minutes = Int(Double(series.completed.count) * stepSeconds / 60)
        let label =
            "Tasks finished per second over the last \(minutes) minutes: completed \(rate(latest))/s in the latest \(Int(stepSeconds)) seconds, peak \(rate(completed.max() ?? 0))/s; failed \(rate(failed.last ?? 0))/s in the latest \(Int(stepSeconds)) seconds"
        var svg = """
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escape(label))" xmlns="http://www.w3.org/2000/svg">
            <title>\(escape(label))</title>
            """
        for fraction in [0.0, 0.5, 1.0] {
            let y = top + plotHeight * (1 - fraction)
            svg += String(format: "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>", left, y, width - 8, y)
            svg += String(format: "<text class=\"axis\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">", left - 6, y + 4) + rate(scale * fraction) + "</text>"
        }
        let marks = max(1, minutes / 5)
        for mark in 0...marks {
            let fraction = Double(mark) / Double(marks)
            let x = left + plotWidth * fraction
            let minutesAgo = Int((1 - fraction) * Double(minutes))
            let text = minutesAgo == 0 ? "now" : "−\(minutesAgo) min"
            let anchor = mark == 0 ? "start" : mark == marks ? "end" : "middle"
            svg += String(format: "<text class=\"axis\" x=\"%.1f\" y=\"%.0f\" ", x, height - 6) + "text-anchor=\"\(anchor)\">\(text)</text>"
        }
        svg += "<polyline class=\"completed\" points=\"\(points(completed))\"/>"
        svg += "<polyline class=\"failed\" points=\"\(points(failed))\"/>"
        svg += "</svg>"
        return svg
    }

    /// The smallest of 1, 2, 5 × 10^n at or above `value` (at least 1).
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 1 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for factor in [1.0, 2.0, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    static func rate(_ value: Double) -> String {
        value >= 100 || value == value.rounded() ? DashboardFormat.count(Int(value.rounded())) : String(format: "%.1f", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
