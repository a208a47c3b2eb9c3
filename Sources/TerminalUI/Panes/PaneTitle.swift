import Workbench

/// The title row every pane starts with: its name (focused or not), details, and hints on the right.
enum PaneTitle {
    /// With `tabbed` (a small terminal showing one pane at a time), the names of the three switchable
    /// panes stand in for the name, the shown one marked.
    static func draw(_ name: String, detail: String = "", hint: String = "", focused: Bool, theme: Theme,
                     in rect: Rect, into buffer: inout CellBuffer, tabbed: Bool = false) {
        guard !rect.isEmpty else { return }
        let style = focused ? theme.focusedTitle : theme.unfocusedTitle
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), with: Cell(" ", focused ? style : theme.plain))
        var x = rect.x
        if tabbed {
            for pane in ["Candidates", "Tokens", "Attention"] {
                let shown = pane == name
                x += buffer.put(shown ? "[\(pane)]" : " \(pane) ", x: x, y: rect.y,
                                style: shown ? style : (focused ? Style(fg: style.fg, bg: style.bg, reverse: style.reverse) : theme.dimmed),
                                maxWidth: rect.maxX - x)
            }
        } else {
            x += buffer.put(" \(name) ", x: x, y: rect.y, style: style, maxWidth: rect.width)
        }
        let detailStyle = focused ? style : theme.dimmed
        if !detail.isEmpty {
            x += buffer.put(" " + detail, x: x, y: rect.y, style: Style(fg: detailStyle.fg, bg: detailStyle.bg, reverse: detailStyle.reverse),
                            maxWidth: rect.maxX - x)
        }
        let room = rect.maxX - x - 2
        if !hint.isEmpty, room >= columnWidth(hint) {
            buffer.put(hint + " ", x: rect.maxX - columnWidth(hint) - 1, y: rect.y,
                       style: Style(fg: detailStyle.fg, bg: detailStyle.bg, reverse: detailStyle.reverse))
        }
    }

    /// Writes `text` word-wrapped into the rows of `rect`; returns the rows used.
    @discardableResult
    static func wrap(_ text: String, style: Style, in rect: Rect, into buffer: inout CellBuffer) -> Int {
        let lines = wrappedLines(text, width: rect.width)
        for (row, line) in lines.prefix(max(0, rect.height)).enumerated() {
            buffer.put(line, x: rect.x, y: rect.y + row, style: style, maxWidth: rect.width)
        }
        return min(lines.count, rect.height)
    }

    /// `text` broken at spaces into lines of at most `width` columns (a longer word keeps a line to itself,
    /// to be cut); a newline always starts a new line.
    static func wrappedLines(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ", omittingEmptySubsequences: false) {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if columnWidth(candidate) > width, !line.isEmpty {
                    lines.append(line)
                    line = String(word)
                } else {
                    line = candidate
                }
            }
            if !line.isEmpty { lines.append(line) }
        }
        return lines
    }
}

/// A probability bar: `fraction` of `width` filled.
func drawBar(_ fraction: Float, x: Int, y: Int, width: Int, theme: Theme, into buffer: inout CellBuffer) {
    guard width > 0 else { return }
    let eighths = Int((Double(max(0, min(1, fraction))) * Double(width * 8)).rounded())
    let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
    var text = String(repeating: "█", count: eighths / 8)
    if eighths % 8 > 0 { text += partials[eighths % 8] }
    let used = buffer.put(text, x: x, y: y, style: theme.barStyle, maxWidth: width)
    if used < width {
        buffer.put(String(repeating: "·", count: width - used), x: x + used, y: y, style: theme.trackStyle)
    }
}

/// A probability as a fixed-width number.
func formatProbability(_ p: Float) -> String {
    let v = Double(p)
    if v >= 0.0001 || v == 0 { return String(format: "%.4f", v) }
    return String(format: "%.0e", v)
}

/// A count with thousands separated by commas ("50,265").
func grouped(_ n: Int) -> String {
    let digits = String(abs(n))
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0, (digits.count - i) % 3 == 0 { out += "," }
        out.append(c)
    }
    return (n < 0 ? "-" : "") + out
}
