import Workbench

/// The bottom row: model, token count, latency of the last run, top-k, and the latest notice or error.
public enum StatusLine {
    /// Renders the status row into `rect`; a notice too long for that row goes, word-wrapped, into
    /// `above` (the rows `overflowRows` asked for) instead of being cut.
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, above: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        let base = baseStyle(theme)
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), with: Cell(" ", base))
        var x = rect.x + buffer.put(summary(state), x: rect.x, y: rect.y, style: base, maxWidth: rect.width)
        let room = rect.maxX - x - columnWidth(help)
        if let message = message(state) {
            let style = messageStyle(message, theme: theme)
            if !above.isEmpty {
                buffer.fill(above, with: Cell(" ", style))
                _ = PaneTitle.wrap(message.text, style: style, in: Rect(x: above.x + 1, y: above.y, width: above.width - 2, height: above.height),
                                   into: &buffer)
                if room > 4 { x += buffer.put("│ ↑", x: x, y: rect.y, style: style, maxWidth: room - 1) }
            } else if room > 4 {
                x += buffer.put("│ " + message.text, x: x, y: rect.y, style: style, maxWidth: room - 1)
            }
        }
        if rect.maxX - columnWidth(help) >= x { buffer.put(help, x: rect.maxX - columnWidth(help), y: rect.y, style: base) }
    }

    /// Rows above the status line that the current notice needs because it does not fit beside the
    /// model, tokens and latency: 0 when it fits, else enough to show it whole (at most 3).
    public static func overflowRows(_ state: WorkbenchState, width: Int) -> Int {
        guard let message = message(state) else { return 0 }
        let room = width - columnWidth(summary(state)) - columnWidth(help) - 1
        if columnWidth("│ " + message.text) <= room { return 0 }
        let lineWidth = max(1, width - 3)  // PaneTitle.wrap breaks at words, so leave a column to spare
        return min(3, (columnWidth(message.text) + lineWidth - 1) / lineWidth)
    }

    static let help = " F1 help "

    static func baseStyle(_ theme: Theme) -> Style {
        theme.monochrome ? Style(reverse: true) : Style(fg: theme.text, bg: theme.selectionBackground)
    }

    static func messageStyle(_ message: Notice, theme: Theme) -> Style {
        guard message.isError else { return baseStyle(theme) }
        return theme.monochrome ? Style(bold: true, reverse: true) : Style(fg: theme.error, bg: theme.selectionBackground, bold: true)
    }

    /// " model · 9 tokens · 3.2 ms · top-5 ".
    static func summary(_ state: WorkbenchState) -> String {
        var parts: [String] = []
        if let model = state.model {
            parts.append(model.name + (state.models.count > 1 ? " (\(state.activeModel + 1)/\(state.models.count))" : ""))
        }
        if let other = state.comparedModel { parts.append("vs " + state.models[other].name) }
        if let analysis = state.analysis {
            parts.append("\(analysis.tokens.count) tokens")
            parts.append(formatLatency(analysis.latency))
        }
        parts.append("top-\(state.topK)")
        if !state.knockout.isEmpty { parts.append("knocked out: " + knockoutList(state.knockout)) }
        if let loading = state.loadingModel { parts.append("loading \(loading)…") }
        if state.isUpdating(state.activeModel) || (state.comparedModel.map { state.isUpdating($0) } ?? false) {
            parts.append("running…")
        }
        return " " + parts.joined(separator: " · ") + " "
    }

    /// The latest notice, else the current text's error. While the run for an edited text is on its way the
    /// last error stays (it is most likely still true), so the rows a long one takes do not come and go
    /// with every keystroke.
    static func message(_ state: WorkbenchState) -> Notice? {
        if let notice = state.notice { return notice }
        if let analysis = state.analysis, analysis.text == state.text || state.isUpdating(state.activeModel),
           let error = analysis.error {
            return Notice(error, isError: true)
        }
        return nil
    }

    /// Seconds as "3.2 ms" or "1.25 s".
    public static func formatLatency(_ seconds: Double) -> String {
        seconds < 1 ? String(format: "%.1f ms", seconds * 1000) : String(format: "%.2f s", seconds)
    }
}
