import Tokenizer
import Workbench

/// Every token with index, id, byte-level and readable form; beside it, the BPE merges of the selected
/// token's word, one per line (rank, pair, result).
public enum TokensPane {
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer,
                              tabbed: Bool = false) {
        guard rect.height >= 2 else { return }
        buffer.fill(rect, with: Cell(" ", theme.plain))
        let focused = state.focus == .tokens
        guard let analysis = state.analysis else {
            PaneTitle.draw("Tokens", focused: focused, theme: theme, in: rect, into: &buffer, tabbed: tabbed)
            buffer.put("waiting for the first run…", x: rect.x + 1, y: rect.y + 1, style: theme.dimmed, maxWidth: rect.width - 2)
            return
        }
        PaneTitle.draw("Tokens", detail: "\(analysis.tokens.count) · token \(state.selectedToken)", hint: "↑↓ PgUp PgDn select",
                       focused: focused, theme: theme, in: rect, into: &buffer, tabbed: tabbed)
        let body = Rect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 1, height: rect.height - 1)
        let listWidth = body.width >= 70 ? min(46, body.width * 9 / 20) : body.width
        let (list, rest) = body.splitLeft(listWidth)
        renderList(state, analysis: analysis, theme: theme, in: list, into: &buffer)
        if rest.width >= 20 {
            for y in rest.y..<rest.maxY { buffer.put("│", x: rest.x, y: y, style: theme.dimmed) }
            renderMerges(state, analysis: analysis, theme: theme,
                         in: Rect(x: rest.x + 2, y: rest.y, width: rest.width - 3, height: rest.height), into: &buffer)
        }
    }

    static func renderList(_ state: WorkbenchState, analysis: Analysis, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.height >= 2 else { return }
        let byteWidth = max(8, min(16, (rect.width - 14) / 2))
        buffer.put("  # " + rightAligned("id", 6) + "  " + padded("byte-level", byteWidth) + " readable", x: rect.x, y: rect.y,
                   style: theme.dimmed, maxWidth: rect.width)
        let rows = rect.height - 1
        let first = max(0, min(state.selectedToken - rows / 2, analysis.tokens.count - rows))
        for (row, i) in (first..<min(analysis.tokens.count, first + rows)).enumerated() {
            let token = analysis.tokens[i]
            let selected = i == state.selectedToken
            let style = selected ? theme.selected : theme.plain
            let y = rect.y + 1 + row
            if selected { buffer.fill(Rect(x: rect.x, y: y, width: rect.width - 1, height: 1), with: Cell(" ", style)) }
            let text = rightAligned(String(i), 3) + " " + rightAligned(String(token.id), 6) + "  "
                + padded(visibleWhitespace(token.byteLevel), byteWidth) + " " + token.readable
            buffer.put(text, x: rect.x, y: y, style: style, maxWidth: rect.width - 1)
        }
    }

    /// The lines the merges panel shows for one token.
    public static func mergeLines(for token: Int, in analysis: Analysis) -> [String] {
        guard analysis.tokens.indices.contains(token) else { return [] }
        let row = analysis.tokens[token]
        guard let w = row.word, analysis.words.indices.contains(w) else {
            return ["\(row.byteLevel) is added by the post-processor,", "not read from the text: no merges."]
        }
        let word = analysis.words[w]
        var lines = ["word \"\(visibleWhitespace(word.text))\" → \(word.byteLevel)"]
        if word.kind == .addedToken {
            lines.append("added token, matched whole: no merges")
            return lines
        }
        lines.append("bytes: " + word.initialSymbols.joined(separator: " "))
        if word.steps.isEmpty { lines.append("(a single symbol: no merges)") }
        let rankWidth = max(4, word.steps.map { String($0.rank).count }.max() ?? 0)
        for step in word.steps {
            lines.append(rightAligned(String(step.rank), rankWidth) + "  " + step.left + " + " + step.right + " → " + step.merged)
        }
        lines.append("tokens: " + word.tokens.map { "\($0.token) (\($0.id))" }.joined(separator: " "))
        return lines
    }

    static func renderMerges(_ state: WorkbenchState, analysis: Analysis, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.height >= 1 else { return }
        buffer.put("BPE merges   rank  pair → result", x: rect.x, y: rect.y, style: theme.dimmed, maxWidth: rect.width)
        let lines = mergeLines(for: state.selectedToken, in: analysis)
        for (i, line) in lines.enumerated() where i + 1 < rect.height {
            let isLast = i + 2 == rect.height && i + 1 < lines.count
            let isStep = i >= 2 && line.first == " " || line.first?.isNumber == true
            buffer.put(isLast ? "… \(lines.count - i) more lines" : line, x: rect.x, y: rect.y + 1 + i,
                       style: isLast ? theme.dimmed : (isStep ? theme.plain : theme.accented), maxWidth: rect.width)
            if isLast { break }
        }
    }
}
