import Workbench

/// Per mask, the top-k candidates: rank, token (whitespace visible), id, probability and a bar. In compare
/// mode, the compared model's list stands beside it with rank changes and probability deltas, and under each
/// mask's lists how far apart the two whole distributions are (KL, JS, top-1, top-k overlap, ρ).
public enum CandidatesPane {
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer,
                              tabbed: Bool = false) {
        guard rect.height >= 2 else { return }
        buffer.fill(rect, with: Cell(" ", theme.plain))
        let focused = state.focus == .candidates
        let analysis = state.analysis
        var detail = "top-\(state.topK)"
        if let masks = analysis?.masks, masks.count > 1 { detail = "mask \(state.selectedMask + 1) of \(masks.count) · " + detail }
        if state.isUpdating(state.activeModel) { detail += " · updating…" }
        if state.showLens { detail = "logit lens: each layer's guess · " + detail }
        if state.showLens, state.comparedModel != nil { detail = "logit lens · two models, depth aligned · top-\(state.topK)" }
        PaneTitle.draw("Candidates", detail: detail, hint: state.showLens ? "←→ mask  l candidates" : "↑↓ pick  ←→ mask  Enter accept  +/- k", focused: focused,
                       theme: theme, in: rect, into: &buffer, tabbed: tabbed)
        let body = Rect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 1)
        guard let analysis else {
            buffer.put("waiting for the first run…", x: body.x, y: body.y, style: theme.dimmed, maxWidth: body.width)
            return
        }
        if analysis.masks.isEmpty {
            PaneTitle.wrap(analysis.error ?? "no masks", style: analysis.error == nil ? theme.dimmed : theme.errorStyle,
                           in: body, into: &buffer)
            return
        }
        if state.showLens, state.comparedModel != nil, let alignment = state.lensAlignment {
            LensView.renderCompare(state, analysis: analysis, alignment: alignment, theme: theme, in: body, into: &buffer)
        } else if state.showLens {
            LensView.render(state, analysis: analysis, theme: theme, in: body, into: &buffer)
        } else if let other = state.comparedModel {
            renderCompare(state, analysis: analysis, other: other, theme: theme, in: body, into: &buffer)
        } else {
            renderSingle(state, analysis: analysis, theme: theme, in: body, into: &buffer)
        }
    }

    /// Mask blocks one under the other, starting at the selected mask when they do not all fit.
    static func renderSingle(_ state: WorkbenchState, analysis: Analysis, theme: Theme, in body: Rect, into buffer: inout CellBuffer) {
        let blockHeight = state.topK + 2
        let fitting = max(1, body.height / blockHeight)
        let first = analysis.masks.count <= fitting ? 0 : min(state.selectedMask, analysis.masks.count - fitting)
        var y = body.y
        for m in first..<analysis.masks.count where y < body.maxY {
            let mask = analysis.masks[m]
            let selectedMask = m == state.selectedMask
            let tokenWidth = max(8, min(16, body.width / 4))
            let columns = " #  " + padded("token", tokenWidth) + " " + rightAligned("id", 6) + "  prob   "
            let used = buffer.put(columns, x: body.x, y: y, style: theme.dimmed, maxWidth: body.width)
            buffer.put("mask \(m + 1) · token \(mask.position)", x: body.x + used, y: y,
                       style: selectedMask ? theme.accented : theme.dimmed, maxWidth: body.width - used)
            y += 1
            for (rank, candidate) in mask.candidates.enumerated() where y < body.maxY {
                let selected = selectedMask && rank == state.selectedCandidate
                drawRow(rank: rank, candidate: candidate, selected: selected, theme: theme,
                        x: body.x, y: y, width: body.width, into: &buffer)
                y += 1
            }
            y += 1
        }
    }

    static func drawRow(rank: Int, candidate: CandidateRow, selected: Bool, theme: Theme, x: Int, y: Int, width: Int,
                        into buffer: inout CellBuffer) {
        let style = selected ? theme.selected : theme.plain
        let tokenWidth = max(8, min(16, width / 4))
        let text = rightAligned(String(rank + 1), 2) + "  " + padded(visibleWhitespace(candidate.text), tokenWidth)
            + " " + rightAligned(String(candidate.id), 6) + "  " + formatProbability(candidate.probability) + " "
        if selected { buffer.fill(Rect(x: x, y: y, width: width, height: 1), with: Cell(" ", style)) }
        let used = buffer.put(text, x: x, y: y, style: style, maxWidth: width)
        drawBar(candidate.probability, x: x + used, y: y, width: min(30, width - used), theme: theme, into: &buffer)
    }

    /// Two columns: the active model's list and the compared model's, which marks for each token how its
    /// rank moved (↑ higher in the compared model, ↓ lower, = same, new = not in the left list) and the
    /// probability delta.
    static func renderCompare(_ state: WorkbenchState, analysis: Analysis, other: Int, theme: Theme, in body: Rect,
                              into buffer: inout CellBuffer) {
        let left = Rect(x: body.x, y: body.y, width: body.width / 2 - 1, height: body.height)
        let right = Rect(x: left.maxX + 2, y: body.y, width: body.maxX - left.maxX - 2, height: body.height)
        for y in body.y..<body.maxY { buffer.put("│", x: left.maxX, y: y, style: theme.dimmed) }
        let otherAnalysis = state.results[other]
        let otherCurrent = otherAnalysis.map { $0.text == analysis.text } ?? false
        // The active (left) model is the teacher of the measures: KL(teacher ‖ student).
        let leftTitle = state.models[state.activeModel].name
        let leftUsed = buffer.put(truncated(leftTitle, left.width), x: left.x, y: left.y, style: theme.accented)
        buffer.put(" (teacher)", x: left.x + leftUsed, y: left.y, style: theme.dimmed, maxWidth: left.width - leftUsed)
        let rightUsed = buffer.put(truncated(state.models[other].name, right.width), x: right.x, y: right.y, style: theme.accented)
        buffer.put(state.isUpdating(other) || !otherCurrent ? " (updating…)" : " (student)", x: right.x + rightUsed, y: right.y,
                   style: theme.dimmed, maxWidth: right.width - rightUsed)
        let measures = state.measures
        let info = measuresInfo(state, measures: measures, width: body.width - 1)
        let infoRow = Rect(x: body.x, y: body.y + 1, width: body.width, height: 1)
        buffer.fill(infoRow, with: Cell(" ", theme.plain))
        buffer.put(info, x: body.x + 1, y: infoRow.y, style: theme.dimmed, maxWidth: body.width - 1)
        let blockHeight = state.topK + 2
        let fitting = max(1, (body.height - 2) / blockHeight)
        let first = analysis.masks.count <= fitting ? 0 : min(state.selectedMask, analysis.masks.count - fitting)
        var y = body.y + 2
        for m in first..<analysis.masks.count where y < body.maxY {
            let mask = analysis.masks[m]
            let selectedMask = m == state.selectedMask
            let maskStyle = selectedMask ? theme.accented : theme.dimmed
            let leftHeader = " # " + padded("mask \(m + 1)", max(6, left.width - 18)) + " prob"
            buffer.put(leftHeader, x: left.x, y: y, style: maskStyle, maxWidth: left.width)
            let rightHeader = " # " + padded("mask \(m + 1)", max(6, right.width - 26)) + " prob   rank Δprob"
            buffer.put(rightHeader, x: right.x, y: y, style: maskStyle, maxWidth: right.width)
            y += 1
            var theirs: [CandidateRow] = []
            if otherCurrent, let o = otherAnalysis, o.masks.indices.contains(m) { theirs = o.masks[m].candidates }
            for rank in 0..<max(mask.candidates.count, theirs.count) where y < body.maxY {
                if mask.candidates.indices.contains(rank) {
                    let c = mask.candidates[rank]
                    let style = selectedMask && rank == state.selectedCandidate ? theme.selected : theme.plain
                    let tokenWidth = max(6, left.width - 18)
                    let text = rightAligned(String(rank + 1), 2) + " " + padded(visibleWhitespace(c.text), tokenWidth) + " "
                        + formatProbability(c.probability) + " "
                    let used = buffer.put(text, x: left.x, y: y, style: style, maxWidth: left.width)
                    drawBar(c.probability, x: left.x + used, y: y, width: left.width - used, theme: theme, into: &buffer)
                }
                if theirs.indices.contains(rank) {
                    let c = theirs[rank]
                    let tokenWidth = max(6, right.width - 26)
                    var x = right.x + buffer.put(rightAligned(String(rank + 1), 2) + " " + padded(visibleWhitespace(c.text), tokenWidth)
                        + " " + formatProbability(c.probability) + " ", x: right.x, y: y, style: theme.plain, maxWidth: right.width)
                    let (mark, delta, style) = change(of: c, at: rank, against: mask.candidates, theme: theme)
                    x += buffer.put(padded(mark, 5), x: x, y: y, style: style, maxWidth: right.maxX - x)
                    buffer.put(delta, x: x, y: y, style: style, maxWidth: right.maxX - x)
                }
                y += 1
            }
            // The mask's measures, across both columns, under its lists.
            guard y < body.maxY else { break }
            let row = Rect(x: body.x, y: y, width: body.width, height: 1)
            buffer.fill(row, with: Cell(" ", theme.plain))
            if let measures, measures.masks.indices.contains(m) {
                var x = body.x + 1
                for (text, role) in measuresLine(measures.masks[m], width: body.width - 1) where x < body.maxX {
                    let style: Style
                    switch role {
                    case .label: style = theme.dimmed
                    case .value: style = selectedMask ? theme.accented : theme.plain
                    case .disagreement: style = theme.downStyle
                    }
                    x += buffer.put(text, x: x, y: y, style: style, maxWidth: body.maxX - x)
                }
            } else if measures != nil {
                let text = "no mask \(m + 1) in the student's tokenization (masks are matched in order)"
                buffer.put(columnWidth(text) <= body.width - 1 ? text : "no mask \(m + 1) in the student's text", x: body.x + 1, y: y,
                           style: theme.dimmed, maxWidth: body.width - 1)
            }
            y += 1
        }
    }

    /// What the measures row under the names says: what they are taken over, or why they are not there (yet).
    static func measuresInfo(_ state: WorkbenchState, measures: ComparisonResult?, width: Int) -> String {
        guard let measures else {
            if state.isMeasuring { return "measuring the distributions…" }
            guard let other = state.comparedModel, let theirs = state.results[other], theirs.text == state.text,
                  !state.isUpdating(other), !state.isUpdating(state.activeModel) else { return "waiting for both models…" }
            if theirs.masks.isEmpty { return "no measures: " + (theirs.error ?? "the student found no mask") }
            return "no measures for this text"
        }
        let count = grouped(measures.compared)
        var info = measures.sharedVocabulary
            ? "KL(teacher ‖ student), JS: over the whole vocabulary (\(count) ids)"
            : "vocabularies differ: compared over \(count) shared token strings"
        if columnWidth(info) > width {
            info = measures.sharedVocabulary ? "KL(T‖S), JS over the whole vocabulary (\(count) ids)" : "vocabularies differ: over \(count) shared token strings"
        }
        let matched = " · masks matched in order"
        if measures.teacherMasks != measures.studentMasks, columnWidth(info + matched) <= width { info += matched }
        return info
    }

    /// The parts of one mask's measures row, in as many words as `width` allows.
    enum MeasureRole { case label, value, disagreement }

    static func measuresLine(_ m: MaskMeasures, width: Int) -> [(String, MeasureRole)] {
        let rho = m.spearman.map { String(format: "%.2f", $0) } ?? "n/a"
        let full: [(String, MeasureRole)] = [
            ("KL ", .label), (String(format: "%.4f", m.kl), .value), (" · JS ", .label), (String(format: "%.4f", m.js), .value),
            (" · top-1 ", .label), (m.top1Agree ? "same" : "differs", m.top1Agree ? .value : .disagreement),
            (" · top-\(m.k) overlap ", .label), ("\(m.shared)/\(m.k)", .value), (" · ρ ", .label), (rho, .value),
        ]
        if full.reduce(0, { $0 + columnWidth($1.0) }) <= width { return full }
        return [
            ("KL ", .label), (String(format: "%.3f", m.kl), .value), (" JS ", .label), (String(format: "%.3f", m.js), .value),
            (" top-1 ", .label), (m.top1Agree ? "✓" : "✗", m.top1Agree ? .value : .disagreement),
            (" top-\(m.k) ", .label), ("\(m.shared)/\(m.k)", .value), (" ρ ", .label), (rho, .value),
        ]
    }

    /// The rank change of `candidate` (at `rank` in the compared list) relative to `reference`, and its
    /// probability delta when the reference list has the token.
    public static func change(of candidate: CandidateRow, at rank: Int, against reference: [CandidateRow], theme: Theme)
        -> (mark: String, delta: String, style: Style)
    {
        guard let was = reference.firstIndex(where: { $0.id == candidate.id }) else {
            return ("new", "", theme.upStyle)
        }
        let delta = candidate.probability - reference[was].probability
        let deltaText = (delta >= 0 ? "+" : "") + String(format: "%.4f", Double(delta))
        if was == rank { return ("=", deltaText, theme.dimmed) }
        return was > rank ? ("↑\(was - rank)", deltaText, theme.upStyle) : ("↓\(rank - was)", deltaText, theme.downStyle)
    }
}
