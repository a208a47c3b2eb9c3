import Foundation

/// The text of pull progress: a bar for terminals, plain lines for logs. Pure, so tests can pin it down.
public enum ProgressText {
    /// `model.safetensors  [########------------]  41%  205 MB / 499 MB  12.3 MB/s  0:23 left`, cut to `width`.
    public static func bar(file: String, done: Int64, total: Int64?, bytesPerSecond: Double, width: Int = 80) -> String {
        let rate = bytesPerSecond > 0 ? "  " + formatBytes(Int64(bytesPerSecond)) + "/s" : ""
        guard let total, total > 0 else {
            return clip("\(file)  \(formatBytes(done))\(rate)", width)
        }
        let fraction = min(1, max(0, Double(done) / Double(total)))
        let percent = String(format: "%3d%%", Int(fraction * 100))
        var left = ""
        if bytesPerSecond > 0, done < total {
            left = "  " + duration(Double(total - done) / bytesPerSecond) + " left"
        }
        let numbers = "  \(percent)  \(formatBytes(done)) / \(formatBytes(total))\(rate)\(left)"
        let name = file.count > 28 ? String(file.prefix(27)) + "…" : file
        let barWidth = max(10, min(30, width - name.count - numbers.count - 4))
        let filled = Int(fraction * Double(barWidth))
        let bar = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "]"
        return clip("\(name)  \(bar)\(numbers)", width)
    }

    /// The line a finished file leaves: `model.safetensors  499 MB in 41.2 s (12.1 MB/s)`, or `... already present`.
    public static func finished(file: String, bytes: Int64, seconds: Double, outcome: PulledFileOutcome) -> String {
        switch outcome {
        case .alreadyPresent:
            return "\(file)  \(formatBytes(bytes))  already present"
        case .downloaded, .resumed:
            let rate = seconds > 0 ? " (\(formatBytes(Int64(Double(bytes) / seconds)))/s)" : ""
            let how = outcome == .resumed ? "  resumed," : ""
            return "\(file)  \(formatBytes(bytes))\(how) in \(String(format: "%.1f", seconds)) s\(rate)"
        }
    }

    /// `1:02:03`, `4:05`, `0:07`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) }
        return String(format: "%d:%02d", s / 60, s % 60)
    }

    static func clip(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(0, width)))
    }
}
