import Workbench

/// Lays the panes out for the terminal's size and renders the whole screen into a cell buffer.
///
/// A large terminal shows every pane: the editor on top, candidates and tokens on the left, attention on
/// the right. A small one (80x24) shows the editor and one pane, the focused one, with Tab cycling. The
/// pseudo-log-likelihood strip (F7), when open, goes under the editor in both.
public enum Screen {
    public static let minimumWidth = 60
    public static let minimumHeight = 16

    /// Whether every pane fits at once.
    public static func isLarge(width: Int, height: Int) -> Bool { width >= 120 && height >= 36 }

    public static func render(_ state: WorkbenchState, theme: Theme, width: Int, height: Int) -> CellBuffer {
        var buffer = CellBuffer(width: width, height: height, fill: Cell(" ", theme.plain))
        guard width >= minimumWidth, height >= minimumHeight else {
            let message = "terminal too small: need at least \(minimumWidth)x\(minimumHeight) (now \(width)x\(height))"
            PaneTitle.wrap(message, style: theme.plain, in: Rect(x: 1, y: max(0, height / 2 - 1), width: width - 2, height: 3), into: &buffer)
            return buffer
        }
        let screen = buffer.bounds
        var (main, status) = screen.splitTop(height - 1)
        if let banner = state.banner {
            // On top, in the selection colours, wrapped at words (and at its newlines) over as many rows as
            // it needs, at most 3.
            let rows = min(3, PaneTitle.wrappedLines(banner, width: width - 2).count)
            let (top, rest) = main.splitTop(rows)
            buffer.fill(top, with: Cell(" ", theme.selected))
            _ = PaneTitle.wrap(banner, style: theme.selected, in: Rect(x: 1, y: top.y, width: width - 2, height: rows), into: &buffer)
            main = rest
        }
        // A notice too long for the status row takes rows above it rather than being cut.
        let overflow = min(StatusLine.overflowRows(state, width: width), max(0, main.height - 8))
        let (rest, above) = main.splitTop(main.height - overflow)
        main = rest
        StatusLine.render(state, theme: theme, in: status, above: above, into: &buffer)
        let large = isLarge(width: width, height: height)
        var (editor, panes) = main.splitTop(large ? 4 : 3)
        EditorPane.render(state, theme: theme, in: editor, into: &buffer)
        if state.likelihood != nil {
            // The pseudo-log-likelihood strip, under the sentence, as tall as it needs while the panes keep
            // enough rows to be read (at 80x24 the candidates of one mask).
            let rows = min(LikelihoodPane.rows(state, width: width), max(0, panes.height - (large ? 16 : 7)))
            if rows >= 3 {
                let (strip, rest) = panes.splitTop(rows)
                LikelihoodPane.render(state, theme: theme, in: strip, into: &buffer)
                panes = rest
            }
        }
        if large, state.showLens, state.comparedModel != nil {
            // The lens of two models side by side takes the whole width; tokens and attention share what is left.
            let (top, rest) = panes.splitTop(min(panes.height / 2, candidateRows(state) + 1))
            CandidatesPane.render(state, theme: theme, in: top, into: &buffer)
            let (left, right) = rest.splitLeft(max(56, width * 2 / 5))
            TokensPane.render(state, theme: theme, in: left, into: &buffer)
            let attention = Rect(x: right.x + 1, y: right.y, width: right.width - 1, height: right.height)
            for y in right.y..<right.maxY { buffer.put("│", x: right.x, y: y, style: theme.dimmed) }
            AttentionPane.render(state, theme: theme, in: attention, into: &buffer)
        } else if large {
            let (left, right) = panes.splitLeft(max(56, width * 2 / 5))
            let (top, bottom) = left.splitTop(min(left.height / 2, max(8, candidateRows(state) + 1)))
            CandidatesPane.render(state, theme: theme, in: top, into: &buffer)
            TokensPane.render(state, theme: theme, in: bottom, into: &buffer)
            let attention = Rect(x: right.x + 1, y: right.y, width: right.width - 1, height: right.height)
            for y in right.y..<right.maxY { buffer.put("│", x: right.x, y: y, style: theme.dimmed) }
            AttentionPane.render(state, theme: theme, in: attention, into: &buffer)
        } else {
            // One pane at a time, the focused one (candidates while editing); the tokens fill any room
            // the candidates leave.
            switch state.focus {
            case .editor, .candidates:
                let used = candidateRows(state) + 1
                if panes.height - used >= 7 {
                    let (top, bottom) = panes.splitTop(used)
                    CandidatesPane.render(state, theme: theme, in: top, into: &buffer, tabbed: true)
                    TokensPane.render(state, theme: theme, in: bottom, into: &buffer)
                } else {
                    CandidatesPane.render(state, theme: theme, in: panes, into: &buffer, tabbed: true)
                }
            case .tokens: TokensPane.render(state, theme: theme, in: panes, into: &buffer, tabbed: true)
            case .attention: AttentionPane.render(state, theme: theme, in: panes, into: &buffer, tabbed: true)
            }
        }
        if state.showHelp { HelpOverlay.render(state, theme: theme, in: screen, into: &buffer) }
        if state.pickerSelection != nil { ModelPicker.render(state, theme: theme, in: screen, into: &buffer) }
        if state.notesEditor != nil { NotesOverlay.render(state, theme: theme, in: screen, into: &buffer) }
        return buffer
    }

    /// Rows the candidates of every mask take (a header per mask, k rows, a gap), title excluded.
    static func candidateRows(_ state: WorkbenchState) -> Int {
        if state.showLens {
            // Compare: the deeper model's rows, and a row for the names.
            let layers = ([state.activeModel] + (state.comparedModel.map { [$0] } ?? [])).compactMap {
                state.models.indices.contains($0) ? state.models[$0].layers : nil
            }.max() ?? 1
            return LensView.rows(layers: layers) + (state.comparedModel == nil ? 0 : 1)
        }
        let masks = max(1, state.analysis?.masks.count ?? 1)
        // Compare: the names and the measures' row under them, then per mask its header, k rows and its measures.
        return masks * (state.topK + 2) + (state.comparedModel == nil ? 0 : 2)
    }
}
