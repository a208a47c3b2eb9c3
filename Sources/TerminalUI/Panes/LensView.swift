import RoBERTa
import Workbench

/// The logit lens of the selected mask, in place of the candidates (F8 / l): per layer what the LM head makes
/// of the hidden state at the mask (row "emb" is the embeddings' output, the last row is fill-mask's answer),
/// and where the final top candidate stands after each layer, with a sparkline of its probability.
public enum LensView {
    /// Rows the view wants for a model with `layers` layers: two header rows, one per layer and the embeddings.
    static func rows(layers: Int) -> Int { layers + 3 }

    static func render(_ state: WorkbenchState, analysis: Analysis, theme: Theme, in body: Rect, into buffer: inout CellBuffer) {
        guard body.height >= 1 else { return }
        guard let lenses = analysis.lens, !lenses.isEmpty else {
            let text = state.isUpdating(state.activeModel) || analysis.text != state.text || analysis.lens == nil
                ? "running the lens… (each layer's hidden state at the mask through the LM head)" : "no lens for this text"
            PaneTitle.wrap(text, style: theme.dimmed, in: body, into: &buffer)
            return
        }
        let m = min(state.selectedMask, lenses.count - 1)
        let lens = lenses[m]
        guard let final = lens.layers.last?.candidates.first else { return }
        let finalText = visibleWhitespace(final.tokenStr)
        let peak = max(lens.layers.map(\.finalTopScore).max() ?? 1, 1e-9)
        let spark = lens.layers.map { sparkBlock($0.finalTopScore / peak) }.joined()
        var used = buffer.put("mask \(m + 1)" + (lenses.count > 1 ? " of \(lenses.count)" : "") + " · final top ", x: body.x, y: body.y,
                              style: theme.dimmed, maxWidth: body.width)
        used += buffer.put(truncated(finalText, 16), x: body.x + used, y: body.y, style: theme.accented, maxWidth: body.width - used)
        used += buffer.put(" · its probability by layer ", x: body.x + used, y: body.y, style: theme.dimmed, maxWidth: body.width - used)
        buffer.put(spark, x: body.x + used, y: body.y, style: theme.accented, maxWidth: body.width - used)
        guard body.height >= 2 else { return }
        // Right: the final top candidate's rank and probability and a bar; left: the layer's own top candidates.
        let rightWidth = 22
        let leftWidth = max(10, body.width - 6 - rightWidth)
        let header = padded("layer", 6) + padded("top candidates", leftWidth) + rightAligned("rank", 7) + "  prob"
        buffer.put(header, x: body.x, y: body.y + 1, style: theme.dimmed, maxWidth: body.width)
        let visible = body.height - 2
        // The last layers matter most: when rows are short, drop the first ones.
        let first = max(0, lens.layers.count - visible)
        for (row, l) in (first..<lens.layers.count).enumerated() {
            let layer = lens.layers[l]
            let y = body.y + 2 + row
            let isLast = l == lens.layers.count - 1
            buffer.put(l == 0 ? "emb" : "L\(l)", x: body.x, y: y, style: isLast ? theme.accented : theme.dimmed)
            var x = body.x + 6
            for candidate in layer.candidates {
                let text = truncated(visibleWhitespace(candidate.tokenStr), 10) + " " + shortProbability(candidate.score)
                guard x + columnWidth(text) <= body.x + 6 + leftWidth - 1 else { break }
                let style = candidate.token == final.token ? theme.accented : theme.plain
                x += buffer.put(text, x: x, y: y, style: style) + 2
            }
            let rank = rightAligned("#\(layer.finalTopRank)", 7) + "  " + formatProbability(layer.finalTopScore) + " "
            let rx = body.x + 6 + leftWidth
            let rused = buffer.put(rank, x: rx, y: y, style: layer.finalTopRank == 1 ? theme.accented : theme.plain, maxWidth: body.maxX - rx)
            buffer.put(sparkBlock(layer.finalTopScore / peak), x: rx + rused, y: y, style: theme.accented, maxWidth: body.maxX - rx - rused)
        }
    }

    /// Compare mode: the active model on the left, the compared one on the right, one row per layer of the deeper
    /// model (the teacher); each of the other model's rows stands beside the teacher row `alignment` pairs it with,
    /// and the line on top says how they were paired. Compact rows (one candidate) when narrow, more when wide.
    static func renderCompare(_ state: WorkbenchState, analysis: Analysis, alignment: LensAlignment, theme: Theme, in body: Rect,
                              into buffer: inout CellBuffer) {
        guard body.height >= 1, let other = state.comparedModel else { return }
        let m = state.selectedMask
        let masks = analysis.masks.count
        var used = buffer.put("mask \(m + 1)" + (masks > 1 ? " of \(masks)" : "") + " · ", x: body.x, y: body.y, style: theme.dimmed,
                              maxWidth: body.width)
        used += buffer.put(alignment.description, x: body.x + used, y: body.y, style: theme.accented, maxWidth: body.width - used)
        guard body.height >= 2 else { return }
        let half = (body.width - 1) / 2
        let left = Rect(x: body.x, y: body.y + 1, width: half, height: body.height - 1)
        let right = Rect(x: body.x + half + 1, y: body.y + 1, width: body.maxX - body.x - half - 1, height: body.height - 1)
        for y in left.y..<left.maxY { buffer.put("│", x: left.maxX, y: y, style: theme.dimmed) }
        let teacherRows = state.models.indices.contains(alignment.teacher) ? state.models[alignment.teacher].layers + 1 : 1
        for (model, rect) in [(state.activeModel, left), (other, right)] {
            let role = model == alignment.teacher ? "teacher" : "student"
            let result = model == state.activeModel ? analysis : state.results[model]
            side(state, model: model, role: role, analysis: result, alignment: alignment, teacherRows: teacherRows, mask: m,
                 theme: theme, in: rect, into: &buffer)
        }
    }

    /// One model's column of the side-by-side lens.
    static func side(_ state: WorkbenchState, model: Int, role: String, analysis: Analysis?, alignment: LensAlignment, teacherRows: Int,
                     mask m: Int, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.height >= 1, rect.width >= 8 else { return }
        let name = state.models.indices.contains(model) ? state.models[model].name : "?"
        var used = buffer.put(truncated(name, max(4, rect.width / 2)), x: rect.x, y: rect.y, style: theme.accented)
        let current = analysis.map { $0.text == state.text } ?? false && !state.isUpdating(model)
        guard current, let lenses = analysis?.lens, lenses.indices.contains(m), let final = lenses[m].layers.last?.candidates.first else {
            let why = analysis?.lens != nil && current ? "no mask \(m + 1) here" : "running the lens…"
            let long = " (\(role)) " + why
            buffer.put(used + columnWidth(long) <= rect.width ? long : " · " + why, x: rect.x + used, y: rect.y, style: theme.dimmed,
                       maxWidth: rect.width - used)
            return
        }
        let lens = lenses[m]
        let peak = max(lens.layers.map(\.finalTopScore).max() ?? 1, 1e-9)
        let spark = " " + lens.layers.map { sparkBlock($0.finalTopScore / peak) }.joined()
        let finalText = truncated(visibleWhitespace(final.tokenStr), 12)
        // The role and the word "final" only when the row has room for them and the sparkline.
        let long = " (\(role)) · final "
        let fits = used + columnWidth(long) + columnWidth(finalText) + columnWidth(spark) <= rect.width
        used += buffer.put(fits ? long : " · ", x: rect.x + used, y: rect.y, style: theme.dimmed, maxWidth: rect.width - used)
        used += buffer.put(finalText, x: rect.x + used, y: rect.y, style: theme.accented, maxWidth: rect.width - used)
        buffer.put(spark, x: rect.x + used, y: rect.y, style: theme.accented, maxWidth: rect.width - used)
        guard rect.height >= 2 else { return }
        // Right: the final top's rank and probability (wide: with the full probability); left: the layer's top candidates.
        let wide = rect.width >= 60
        let rightWidth = wide ? 17 : 10
        let leftWidth = max(6, rect.width - 4 - rightWidth)
        let header = padded("lyr", 4) + padded("top", leftWidth) + rightAligned("rank", wide ? 7 : 5) + (wide ? "  prob" : " p")
        buffer.put(header, x: rect.x, y: rect.y + 1, style: theme.dimmed, maxWidth: rect.width)
        let visible = rect.height - 2
        let first = max(0, teacherRows - visible)
        for (n, row) in (first..<teacherRows).enumerated() {
            let y = rect.y + 2 + n
            guard let l = alignment.row(of: model, beside: row), lens.layers.indices.contains(l) else {
                buffer.put("·", x: rect.x + 1, y: y, style: theme.dimmed)
                continue
            }
            let layer = lens.layers[l]
            let isLast = l == lens.layers.count - 1
            buffer.put(l == 0 ? "emb" : "L\(l)", x: rect.x, y: y, style: isLast ? theme.accented : theme.dimmed)
            var x = rect.x + 4
            for (i, candidate) in layer.candidates.enumerated() {
                let text = truncated(visibleWhitespace(candidate.tokenStr), 10) + " " + shortProbability(candidate.score)
                let room = rect.x + 4 + leftWidth - 1 - x
                guard columnWidth(text) <= room || (i == 0 && room >= 4) else { break }
                let style = candidate.token == final.token ? theme.accented : theme.plain
                x += buffer.put(text, x: x, y: y, style: style, maxWidth: room) + 2
            }
            let rank = rightAligned("#\(layer.finalTopRank)", wide ? 7 : 5) + (wide ? "  " + formatProbability(layer.finalTopScore) + " "
                                                                                      : " " + shortProbability(layer.finalTopScore))
            let rx = rect.x + 4 + leftWidth
            let rused = buffer.put(rank, x: rx, y: y, style: layer.finalTopRank == 1 ? theme.accented : theme.plain, maxWidth: rect.maxX - rx)
            buffer.put(sparkBlock(layer.finalTopScore / peak), x: rx + rused, y: y, style: theme.accented, maxWidth: rect.maxX - rx - rused)
        }
    }

    /// One of ▁▂▃▄▅▆▇█ for a value in 0…1 (a blank below the first step would hide small values).
    static func sparkBlock(_ value: Float) -> String {
        let blocks = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        return blocks[max(0, min(7, Int((value * 8).rounded(.down))))]
    }

    /// ".12", ".05", "1.0": two digits for the lens rows.
    static func shortProbability(_ p: Float) -> String {
        p >= 0.995 ? "1.0" : "." + String(format: "%02d", Int((p * 100).rounded()))
    }
}
