import Workbench

/// The sentence editor: the text wrapped over the pane's rows, masks marked, the selected token's (or
/// mask's, or attention query's) span highlighted, the cursor placed.
public enum EditorPane {
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.height >= 2, rect.width >= 4 else { return }
        let focused = state.focus == .editor
        var detail = ""
        if let index = state.historyIndex { detail = "history \(index + 1)/\(state.history.count)" }
        // The note goes on the pane's last row when the sentence leaves it free, else a mark in the title.
        var noteRow: Int?
        PaneTitle.draw("Sentence", detail: detail, hint: "Ctrl-O <mask> · Enter keep · F1 help", focused: focused,
                       theme: theme, in: rect, into: &buffer)
        let body = Rect(x: rect.x + 2, y: rect.y + 1, width: rect.width - 3, height: rect.height - 1)
        buffer.fill(Rect(x: rect.x, y: body.y, width: rect.width, height: body.height), with: Cell(" ", theme.plain))
        buffer.put("›", x: rect.x, y: body.y, style: focused ? theme.accented : theme.dimmed)

        let scalars = state.editor.scalars
        let places = layout(scalars, width: body.width)
        let row = places.last?.row ?? 0
        let cursorRow = places[state.editor.cursor].row
        let firstRow = max(0, cursorRow - body.height + 1)
        if !state.notes.isEmpty {
            if row + 1 < body.height {
                noteRow = body.maxY - 1
            } else {
                PaneTitle.draw("Sentence", detail: detail.isEmpty ? "✎ note (n)" : detail + " · ✎ note (n)",
                               hint: "Ctrl-O <mask> · Enter keep · F1 help", focused: focused, theme: theme, in: rect, into: &buffer)
            }
        }

        let styles = highlightStyles(state, theme: theme, count: scalars.count)
        for (i, scalar) in scalars.enumerated() {
            let place = places[i]
            let y = body.y + place.row - firstRow
            guard y >= body.y, y < body.maxY, place.column < body.width else { continue }
            if columnWidth(scalar) == 0 {
                // placed on the cell where its base character starts (see layout)
                buffer[body.x + place.column, y].text.unicodeScalars.append(scalar)
            } else {
                buffer.put(String(scalar), x: body.x + place.column, y: y, style: styles[i])
            }
        }
        if state.editor.scalars.isEmpty {
            buffer.put("type a sentence with <mask>, e.g. Paris is the <mask> of France.", x: body.x, y: body.y,
                       style: theme.dimmed, maxWidth: body.width)
        }
        if let noteRow {
            buffer.put("✎ " + state.notes, x: body.x, y: noteRow, style: theme.dimmed, maxWidth: body.width)
        }
        if focused, !state.showHelp, state.pickerSelection == nil, state.notesEditor == nil {
            let place = places[state.editor.cursor]
            // after a space hanging past the row's end: in the pane's spare right-hand column
            buffer.cursor = (body.x + min(place.column, body.width), body.y + place.row - firstRow)
        }
        if firstRow > 0 { buffer.put("↑", x: rect.x, y: body.y, style: theme.dimmed) }
    }

    /// Where each scalar (and the end, for the cursor) goes: (row, column), wrapped at word boundaries
    /// like an editor: a word that does not fit on the rest of a row starts the next one, spaces stay at the
    /// end of the row they follow, and a word wider than a whole row starts a row and is broken between characters.
    static func layout(_ scalars: [Unicode.Scalar], width: Int) -> [(row: Int, column: Int)] {
        var places: [(row: Int, column: Int)] = []
        places.reserveCapacity(scalars.count + 1)
        var row = 0, column = 0
        var base = (row: 0, column: 0)  // where the last character with a width starts
        var i = 0
        while i < scalars.count {
            if columnWidth(scalars[i]) == 0, !scalars[i].properties.isWhitespace {
                // a combining mark or variation selector goes with its base character's cell
                places.append(base)
                i += 1
                continue
            }
            if scalars[i].properties.isWhitespace {
                // A space that would overflow hangs past the row's end (not drawn) instead of starting a row.
                if column < width { base = (row, column) }
                places.append((row, column))
                column += columnWidth(scalars[i])
                i += 1
                continue
            }
            var end = i, wordWidth = 0
            while end < scalars.count, !scalars[end].properties.isWhitespace {
                wordWidth += columnWidth(scalars[end])
                end += 1
            }
            if column > 0, column + wordWidth > width {
                row += 1
                column = 0
            }
            for scalar in scalars[i..<end] {
                let w = columnWidth(scalar)
                if w == 0 {
                    places.append(base)
                    continue
                }
                if column + w > width {
                    row += 1
                    column = 0
                }
                base = (row, column)
                places.append(base)
                column += w
            }
            i = end
        }
        if column >= width {
            row += 1
            column = 0
        }
        places.append((row, column))
        return places
    }

    /// A style per scalar: masks accented, the span that matches the focused pane's selection highlighted.
    static func highlightStyles(_ state: WorkbenchState, theme: Theme, count: Int) -> [Style] {
        var styles = Array(repeating: theme.plain, count: count)
        guard let analysis = state.analysis, analysis.text == state.text else { return styles }
        func mark(_ range: Range<Int>, _ style: Style) {
            for i in max(0, range.lowerBound)..<min(count, max(range.lowerBound, range.upperBound)) { styles[i] = style }
        }
        for mask in analysis.masks { mark(analysis.tokens[mask.position].span, theme.accented) }
        switch state.focus {
        case .tokens where analysis.tokens.indices.contains(state.selectedToken):
            mark(analysis.tokens[state.selectedToken].span, theme.spanStyle)
        case .candidates where analysis.masks.indices.contains(state.selectedMask):
            mark(analysis.tokens[analysis.masks[state.selectedMask].position].span, theme.spanStyle)
        case .attention:
            if analysis.tokens.indices.contains(state.key) {
                var keyStyle = theme.plain
                keyStyle.underline = true
                keyStyle.bold = true
                mark(analysis.tokens[state.key].span, keyStyle)
            }
            if analysis.tokens.indices.contains(state.query) { mark(analysis.tokens[state.query].span, theme.spanStyle) }
        default: break
        }
        return styles
    }
}
