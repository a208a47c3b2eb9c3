import Workbench

/// The bottom row: model, token count, latency of the last run, top-k, and the latest notice or error.
public enum StatusLine {
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        let base = theme.monochrome ? Style(reverse: true) : Style(fg: theme.text, bg: theme.selectionBackground)
        buffer.fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), with: Cell(" ", base))
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
        if let loading = state.loadingModel { parts.append("loading \(loading)…") }
        if state.isUpdating(state.activeModel) || (state.comparedModel.map { state.isUpdating($0) } ?? false) {
            parts.append("running…")
        }
        var x = rect.x + buffer.put(" " + parts.joined(separator: " · ") + " ", x: rect.x, y: rect.y, style: base, maxWidth: rect.width)
        var message: Notice? = state.notice
        if message == nil, let analysis = state.analysis, analysis.text == state.text, let error = analysis.error {
            message = Notice(error, isError: true)
        }
        let help = " F1 help "
        let room = rect.maxX - x - columnWidth(help)
        if let message, room > 4 {
            var style = base
            if message.isError {
                style = theme.monochrome ? Style(bold: true, reverse: true) : Style(fg: theme.error, bg: theme.selectionBackground, bold: true)
            }
            x += buffer.put("│ " + message.text, x: x, y: rect.y, style: style, maxWidth: room - 1)
        }
        if rect.maxX - columnWidth(help) >= x { buffer.put(help, x: rect.maxX - columnWidth(help), y: rect.y, style: base) }
    }

    /// Seconds as "3.2 ms" or "1.25 s".
    public static func formatLatency(_ seconds: Double) -> String {
        seconds < 1 ? String(format: "%.1f ms", seconds * 1000) : String(format: "%.2f s", seconds)
    }
}
