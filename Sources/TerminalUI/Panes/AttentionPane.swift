import RoBERTa
import Workbench

/// Attention of the active model: one head (or the mean over heads) as a query-by-key heatmap with token
/// labels and the exact value under the cursor, and an overview of every layer by every head.
public enum AttentionPane {
    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer,
                              tabbed: Bool = false) {
        guard rect.height >= 2 else { return }
        buffer.fill(rect, with: Cell(" ", theme.plain))
        let focused = state.focus == .attention
        let layers = state.model?.layers ?? 0, heads = state.model?.heads ?? 0
        let values = state.attentionValues
        let knocked = state.knockout
        let selectedOut = knocked.contains(HeadRef(layer: state.layer, head: state.head))
        let label = state.analysis?.headStats.flatMap { stats in
            stats.indices.contains(state.layer) && stats[state.layer].indices.contains(state.head) ? stats[state.layer][state.head].label : nil
        } ?? ""
        var detail = values.title + " · "
        switch (state.attentionMode, values) {
        case (.overview, .rollout): detail += "overview · \(layers) layers"
        case (.overview, _): detail += "overview · L\(state.layer + 1) H\(state.head + 1)"
        case (_, .rollout): detail += "to layer \(state.layer + 1)/\(layers), all heads"
        case (.head, _): detail += "layer \(state.layer + 1)/\(layers) · head \(state.head + 1)/\(heads)"
        case (.mean, _): detail += "layer \(state.layer + 1)/\(layers) · mean of \(heads) heads"
        }
        if values != .rollout, state.attentionMode != .mean {
            if !label.isEmpty { detail += " " + label }
            if selectedOut { detail += " · out" }
        }
        let statistic = state.attentionMode == .overview ? state.headStatistic : nil
        if let statistic {
            // The labels are in the cells.
            detail = "overview · \(statistic.title) per head · L\(state.layer + 1) H\(state.head + 1)" + (selectedOut ? " · out" : "")
        }
        let grid = state.attentionMode == .overview && statistic == nil
            ? state.importance.flatMap { $0.model == state.activeModel ? $0 : nil } : nil
        if grid != nil { detail = "head importance · L\(state.layer + 1) H\(state.head + 1)" + (selectedOut ? " · out" : "") }
        PaneTitle.draw("Attention", detail: detail, hint: "[ ] layer  , . head  v values  x knock out  g importance",
                       focused: focused, theme: theme, in: rect, into: &buffer, tabbed: tabbed)
        let body = Rect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 1, height: rect.height - 1)
        if let grid {
            renderImportance(state, grid: grid, theme: theme, in: body, into: &buffer)
            return
        }
        guard let analysis = state.analysis, let weights = analysis.attention, weights.tokens == analysis.tokens.count else {
            let message = state.analysis?.error ?? "waiting for the first run…"
            PaneTitle.wrap("attention appears once the text has a <mask>. " + message, style: theme.dimmed, in: body, into: &buffer)
            return
        }
        if let statistic, let stats = analysis.headStats, !stats.isEmpty {
            renderStatistic(state, statistic: statistic, stats: stats, theme: theme, in: body, into: &buffer)
            return
        }
        guard let maps = analysis.maps(values), maps.tokens == analysis.tokens.count else {
            PaneTitle.wrap("computing the \(values.rawValue)… (v shows the next kind of values)", style: theme.dimmed, in: body, into: &buffer)
            return
        }
        let layer = min(state.layer, maps.layers - 1), head = min(state.head, maps.heads - 1)
        if state.attentionMode == .overview {
            renderOverview(state, analysis: analysis, maps: maps, theme: theme, in: body, into: &buffer)
            return
        }
        let n = maps.tokens
        let heatmapRows = n + 2 + min(6, maxLabelLength(analysis))
        let overviewRows = maps.layers * 2 + 3
        if body.height >= heatmapRows + overviewRows, body.height >= 30 {
            let (top, bottom) = body.splitTop(heatmapRows)
            renderHeatmap(state, analysis: analysis, maps: maps, layer: layer, head: head, theme: theme, in: top, into: &buffer)
            let divider = Rect(x: bottom.x, y: bottom.y, width: bottom.width, height: 1)
            buffer.put(String(repeating: "─", count: divider.width), x: divider.x, y: divider.y, style: theme.dimmed)
            renderOverview(state, analysis: analysis, maps: maps, theme: theme,
                           in: Rect(x: bottom.x, y: bottom.y + 1, width: bottom.width, height: bottom.height - 1), into: &buffer)
        } else {
            renderHeatmap(state, analysis: analysis, maps: maps, layer: layer, head: head, theme: theme, in: body, into: &buffer)
        }
    }

    static func maxLabelLength(_ analysis: Analysis) -> Int {
        analysis.tokens.map { columnWidth(label($0.readable)) }.max() ?? 1
    }

    /// A token's label without the visible leading space, which every word would start with.
    static func label(_ readable: String) -> String {
        let trimmed = readable.hasPrefix("␣") && readable.count > 1 ? String(readable.dropFirst()) : readable
        return trimmed.isEmpty ? "␣" : trimmed
    }

    static func renderHeatmap(_ state: WorkbenchState, analysis: Analysis, maps: AttentionMaps, layer: Int, head: Int,
                              theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        let n = maps.tokens
        guard rect.height >= 3, n > 0 else { return }
        let values = maps.shown(layer: layer, head: head, meanOverHeads: state.attentionMode == .mean)
        let peak = max(values.max() ?? 1, 1e-9)
        let q = min(state.query, n - 1), k = min(state.key, n - 1)
        let tokens = analysis.tokens
        // The exact value under the cursor, and the scale.
        let info = "q \(q) \(truncated(tokens[q].readable, 12)) → k \(k) \(truncated(tokens[k].readable, 12)): "
        var x = rect.x + buffer.put(info, x: rect.x, y: rect.y, style: theme.plain, maxWidth: rect.width)
        x += buffer.put(String(format: "%.4f", Double(values[q * n + k])), x: x, y: rect.y, style: theme.accented, maxWidth: rect.maxX - x)
        buffer.put(String(format: "   shade 0…%.3f", Double(peak)), x: x, y: rect.y, style: theme.dimmed, maxWidth: rect.maxX - x)

        let labelWidth = min(14, 4 + min(10, maxLabelLength(analysis)))
        let cellWidth = max(1, min(3, state.zoom))
        let columns = max(1, (rect.width - labelWidth) / cellWidth)
        let freeRows = rect.height - 1 - n
        let labelRows = freeRows >= 3 ? min(6, freeRows) : 1
        let rows = max(1, rect.height - 1 - labelRows)
        let firstRow = scrollStart(cursor: q, visible: rows, total: n)
        let firstColumn = scrollStart(cursor: k, visible: columns, total: n)
        let gridX = rect.x + labelWidth
        let labelY = rect.y + 1

        // Key labels: vertical text when there is room, else an index ruler with the cursor column marked.
        for column in 0..<min(columns, n - firstColumn) {
            let key = firstColumn + column
            let cx = gridX + column * cellWidth
            let style = key == k ? theme.selected : theme.dimmed
            if labelRows > 1 {
                for (i, scalar) in label(tokens[key].readable).unicodeScalars.prefix(labelRows).enumerated() where columnWidth(scalar) == 1 {
                    buffer.put(String(scalar), x: cx, y: labelY + i, style: style)
                }
            } else if key == k {
                buffer.put("▼", x: cx, y: labelY, style: theme.accented)
            } else if key % 5 == 0, cellWidth * 5 >= String(key).count {
                buffer.put(String(key), x: cx, y: labelY, style: theme.dimmed, maxWidth: min(rect.maxX - cx, cellWidth * 5 - 1))
            }
        }
        if labelRows > 1 {
            buffer.put(rightAligned("key →", labelWidth - 1), x: rect.x, y: labelY + labelRows - 1, style: theme.dimmed)
        } else {
            buffer.put(rightAligned("q╲k", labelWidth - 1), x: rect.x, y: labelY, style: theme.dimmed)
        }
        if firstColumn > 0 { buffer.put("◂", x: gridX - 1, y: labelY, style: theme.accented) }
        if firstColumn + columns < n { buffer.put("▸", x: min(rect.maxX - 1, gridX + columns * cellWidth), y: labelY, style: theme.accented) }

        let gridY = labelY + labelRows
        for row in 0..<min(rows, n - firstRow) {
            let query = firstRow + row
            let y = gridY + row
            let rowStyle = query == q ? theme.selected : theme.plain
            buffer.put(padded(rightAligned(String(query), 2) + " " + label(tokens[query].readable), labelWidth - 1),
                       x: rect.x, y: y, style: rowStyle)
            for column in 0..<min(columns, n - firstColumn) {
                let key = firstColumn + column
                let v = Double(values[query * n + key] / peak)
                var (text, style) = theme.heatCell(v)
                var cell = String(repeating: text, count: cellWidth)
                if query == q, key == k {
                    if theme.monochrome {
                        style = Style(reverse: true)
                        if text == " " { cell = String(repeating: "·", count: cellWidth) }
                    } else {
                        let c = theme.rampColor(v)
                        style.fg = (c?.luminance ?? 0) > 0.5 ? RGB(0, 0, 0) : RGB(255, 255, 255)
                        style.bold = true
                        cell = cellWidth == 1 ? "◆" : (cellWidth == 2 ? "[]" : "[◆]")
                    }
                }
                buffer.put(cell, x: gridX + column * cellWidth, y: y, style: style)
            }
        }
        if firstRow > 0 { buffer.put("▴", x: rect.x + labelWidth - 1, y: gridY, style: theme.accented) }
        if firstRow + rows < n { buffer.put("▾", x: rect.x + labelWidth - 1, y: gridY + rows - 1, style: theme.accented) }
    }

    /// First visible index so that `cursor` stays on screen, keeping some context around it.
    static func scrollStart(cursor: Int, visible: Int, total: Int) -> Int {
        guard total > visible else { return 0 }
        return max(0, min(total - visible, cursor - visible / 2))
    }

    /// Small multiples: one block per layer and head. Big enough blocks show the whole map pooled down
    /// (each normalised to its own peak); one-cell blocks show the value at the cursor's query and key,
    /// normalised over all heads, so one sees which heads link the two tokens.
    static func renderOverview(_ state: WorkbenchState, analysis: Analysis, maps: AttentionMaps, theme: Theme, in rect: Rect,
                               into buffer: inout CellBuffer) {
        guard rect.height >= 3 else { return }
        let n = maps.tokens
        let labelWidth = 4
        let blockWidth = max(1, min(12, (rect.width - labelWidth) / maps.heads - 1))
        let blockHeight = max(1, min(6, (rect.height - 2) / maps.layers))
        let pooled = blockWidth >= 2 && blockHeight >= 2
        let q = min(state.query, n - 1), k = min(state.key, n - 1)
        let selectedHead = min(state.head, maps.heads - 1)
        let rollout = state.attentionValues == .rollout
        let what = rollout ? "all heads, from layer 1 to each" : state.knockout.isEmpty ? "Enter opens the selected head" : "× knocked out"
        let headline = pooled ? (rollout ? "each block: the rollout, pooled · " : "each block: one head's \(state.attentionValues.rawValue), pooled · ") + what
            : "each cell: \(state.attentionValues.rawValue) from q \(q) to k \(k) · " + what
        buffer.put(headline, x: rect.x, y: rect.y, style: theme.dimmed, maxWidth: rect.width)
        for h in 0..<maps.heads {
            let x = rect.x + labelWidth + h * (blockWidth + 1)
            buffer.put(maps.heads == 1 ? "all" : "H\(h + 1)", x: x, y: rect.y + 1, style: h == selectedHead ? theme.selected : theme.dimmed,
                       maxWidth: max(blockWidth, 1) + (blockWidth < 3 ? 1 : 0))
        }
        let visibleLayers = max(1, (rect.height - 2) / blockHeight)
        let firstLayer = scrollStart(cursor: state.layer, visible: visibleLayers, total: maps.layers)
        var cellPeak: Float = 1e-9
        if !pooled {
            for l in 0..<maps.layers { for h in 0..<maps.heads { cellPeak = max(cellPeak, maps[l, h, q, k]) } }
        }
        for l in firstLayer..<min(maps.layers, firstLayer + visibleLayers) {
            let y0 = rect.y + 2 + (l - firstLayer) * blockHeight
            buffer.put("L\(l + 1)", x: rect.x, y: y0, style: l == state.layer ? theme.selected : theme.dimmed)
            for h in 0..<maps.heads {
                let x0 = rect.x + labelWidth + h * (blockWidth + 1)
                let selected = l == state.layer && h == selectedHead
                let out = maps.heads > 1 && state.knockout.contains(HeadRef(layer: l, head: h))
                defer { if out { buffer.put("×", x: x0, y: y0, style: theme.accented) } }
                if pooled {
                    let m = maps.matrix(layer: l, head: h)
                    let base = m.startIndex
                    let peak = max(m.max() ?? 1, 1e-9)
                    for by in 0..<blockHeight {
                        let r0 = by * n / blockHeight, r1 = max(r0 + 1, (by + 1) * n / blockHeight)
                        for bx in 0..<blockWidth {
                            let c0 = bx * n / blockWidth, c1 = max(c0 + 1, (bx + 1) * n / blockWidth)
                            var best: Float = 0
                            for r in r0..<min(n, r1) { for c in c0..<min(n, c1) { best = max(best, m[base + r * n + c]) } }
                            let (text, style) = theme.heatCell(Double(best / peak))
                            buffer.put(text, x: x0 + bx, y: y0 + by, style: style)
                        }
                    }
                    if selected { buffer.put("▸", x: x0 - 1, y: y0, style: theme.accented) }
                } else {
                    let v = Double(maps[l, h, q, k] / cellPeak)
                    var (text, style) = theme.heatCell(v)
                    if selected {
                        style = theme.monochrome ? Style(reverse: true) : style
                        if text == " " { text = "·" }
                        buffer.put("▸", x: x0 - 1, y: y0, style: theme.accented)
                    }
                    buffer.put(String(repeating: text, count: blockWidth), x: x0, y: y0, style: style)
                }
            }
        }
    }

    /// The overview coloured by one head statistic (S): per layer and head the statistic's value in 0…1 (computed in
    /// Analysis), shaded along the theme's ramp, with the value and the head's label written in the cell where they fit.
    static func renderStatistic(_ state: WorkbenchState, statistic: HeadStatistic, stats: [[HeadStatistics]], theme: Theme,
                                in rect: Rect, into buffer: inout CellBuffer) {
        let layers = stats.count, heads = stats.map(\.count).max() ?? 0
        guard layers > 0, heads > 0, rect.height >= 3 else { return }
        let what = statistic == .entropy ? "mean row entropy / ln(tokens), 1 = uniform" : "mean weight \(statistic.title), over the queries"
        let headline = "each cell: \(what) · darker: more · S next"
        buffer.put(columnWidth(headline) <= rect.width ? headline : "each cell: \(statistic.title) · S next", x: rect.x, y: rect.y,
                   style: theme.dimmed, maxWidth: rect.width)
        let labelWidth = 4
        let cellWidth = max(2, min(16, (rect.width - labelWidth) / heads))
        let layer = min(state.layer, layers - 1), head = min(state.head, heads - 1)
        for h in 0..<heads where cellWidth >= 3 || h % 2 == 0 {
            buffer.put("H\(h + 1)", x: rect.x + labelWidth + h * cellWidth + 1, y: rect.y + 1,
                       style: h == head ? theme.selected : theme.dimmed, maxWidth: max(cellWidth - 1, 2))
        }
        // Two rows a layer when there is room (the label on the second), else one.
        let legendRows = rect.height >= layers + 4 ? 1 : 0
        let rowsPerLayer = rect.height - 2 - legendRows >= layers * 2 ? 2 : 1
        let visible = max(1, (rect.height - 2 - legendRows) / rowsPerLayer)
        let first = scrollStart(cursor: layer, visible: visible, total: layers)
        for l in first..<min(layers, first + visible) {
            let y = rect.y + 2 + (l - first) * rowsPerLayer
            buffer.put("L\(l + 1)", x: rect.x, y: y, style: l == layer ? theme.selected : theme.dimmed)
            for h in 0..<stats[l].count {
                let x = rect.x + labelWidth + h * cellWidth
                let width = cellWidth - 1
                let s = stats[l][h]
                let value = statistic.value(s)
                let selected = l == layer && h == head
                let number = value.map { $0 >= 0.995 ? "1.0" : "." + String(format: "%02d", Int(($0 * 100).rounded())) } ?? "n/a"
                var lines = [number + (rowsPerLayer == 1 && !s.label.isEmpty ? " " + s.label : "")]
                if rowsPerLayer == 2 { lines.append(s.label) }
                if columnWidth(lines[0]) > width - (theme.monochrome ? 2 : 0) { lines[0] = number }
                for (i, line) in lines.enumerated() {
                    let (shade, ramp) = theme.heatCell(value ?? 0)
                    let cellY = y + i
                    if theme.monochrome || value == nil {
                        // Text first, then the shade (a shade character under text would hide it).
                        let text = columnWidth(line) <= width - 2 ? line : ""
                        var used = buffer.put(text, x: x, y: cellY, style: selected ? theme.selected : theme.plain, maxWidth: width)
                        if used > 0 { used += 1 }
                        let fill = value == nil ? " " : (shade == " " ? " " : shade)
                        buffer.put(String(repeating: fill, count: max(0, width - used)), x: x + used, y: cellY, style: ramp)
                    } else {
                        var style = ramp
                        style.fg = (theme.rampColor(value ?? 0)?.luminance ?? 0) > 0.5 ? RGB(0, 0, 0) : RGB(255, 255, 255)
                        style.bold = selected
                        let text = columnWidth(line) <= width ? line : ""
                        buffer.put(padded(text, width), x: x, y: cellY, style: style, maxWidth: width)
                    }
                }
                if selected { buffer.put("▸", x: x - 1, y: y, style: theme.accented) }
                if state.knockout.contains(HeadRef(layer: l, head: h)) {
                    buffer.put("×", x: x + width - 1, y: y, style: theme.accented)
                }
            }
        }
        if legendRows == 1 {
            let y = rect.maxY - 1
            var x = rect.x + buffer.put("shade: 0 ", x: rect.x, y: y, style: theme.dimmed, maxWidth: rect.width)
            for i in 0...10 where x < rect.maxX - 2 {
                let (shade, style) = theme.heatCell(Double(i) / 10)
                x += buffer.put(shade == " " && theme.monochrome ? " " : shade, x: x, y: y, style: style)
            }
            buffer.put(" 1", x: x, y: y, style: theme.dimmed, maxWidth: rect.maxX - x)
        }
    }

    /// The head-importance grid (g), laid out as the overview: per layer and head, Δ ln p of the top candidate at
    /// the first mask with that head alone knocked out, as a number when there is room, shaded by its size.
    static func renderImportance(_ state: WorkbenchState, grid: ImportanceGrid, theme: Theme, in rect: Rect,
                                 into buffer: inout CellBuffer) {
        guard rect.height >= 2 else { return }
        guard let result = grid.result else {
            let text = grid.cancelled ? "stopped: the sentence changed while the heads were measured; g measures it again"
                : "measuring head importance… layer \(grid.layersDone)/\(grid.layers): each head knocked out alone (an edit stops it)"
            let used = PaneTitle.wrap(text, style: theme.dimmed, in: Rect(x: rect.x, y: rect.y, width: rect.width, height: rect.height - 1),
                                      into: &buffer)
            if !grid.cancelled, grid.layers > 0, rect.height - used >= 1 {
                let width = max(1, min(40, rect.width - 2))
                let filled = width * grid.layersDone / grid.layers
                buffer.put(String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled),
                           x: rect.x, y: rect.y + used, style: theme.accented)
            }
            return
        }
        if let error = result.error {
            PaneTitle.wrap(error, style: theme.errorStyle, in: rect, into: &buffer)
            return
        }
        let layers = result.deltas.count, heads = result.deltas.first?.count ?? 0
        guard layers > 0, heads > 0, rect.height >= 3 else { return }
        let stale = grid.source != state.text ? " (an earlier sentence)" : ""
        let headline = "Δ ln p(\(visibleWhitespace(result.token))) at token \(result.position), one head out; darker: more needed" + stale
        buffer.put(headline, x: rect.x, y: rect.y, style: theme.dimmed, maxWidth: rect.width)
        let labelWidth = 4
        let cellWidth = max(1, min(7, (rect.width - labelWidth) / heads))
        let numbers = cellWidth >= 6
        let peak = max(result.deltas.joined().map { abs($0) }.max() ?? 0, 1e-9)
        for h in 0..<heads where numbers || h % max(1, 3 / cellWidth + 1) == 0 {
            buffer.put("H\(h + 1)", x: rect.x + labelWidth + h * cellWidth + (numbers ? 1 : 0), y: rect.y + 1,
                       style: h == state.head ? theme.selected : theme.dimmed, maxWidth: max(cellWidth, 3))
        }
        let visible = max(1, rect.height - 2)
        let first = scrollStart(cursor: state.layer, visible: visible, total: layers)
        for l in first..<min(layers, first + visible) {
            let y = rect.y + 2 + l - first
            buffer.put("L\(l + 1)", x: rect.x, y: y, style: l == state.layer ? theme.selected : theme.dimmed)
            for h in 0..<heads {
                let x = rect.x + labelWidth + h * cellWidth
                let delta = result.deltas[l][h]
                // Shaded by how much the guess loses (a head that helps a rival, a positive Δ, stays light).
                var (shade, style) = theme.heatCell(max(0, -delta) / peak)
                let selected = l == state.layer && h == state.head
                if numbers {
                    let text = rightAligned(String(format: "%+.2f", delta), cellWidth - 2)
                    buffer.put(text, x: x, y: y, style: selected ? theme.selected : theme.plain)
                    buffer.put(shade, x: x + cellWidth - 2, y: y, style: style)
                } else {
                    if selected, theme.monochrome { style = Style(reverse: true) }
                    if selected, shade == " " { shade = "·" }
                    buffer.put(String(repeating: shade, count: cellWidth), x: x, y: y, style: style)
                }
                if state.knockout.contains(HeadRef(layer: l, head: h)) {
                    buffer.put("×", x: numbers ? x + cellWidth - 2 : x, y: y, style: theme.accented)
                }
                if selected, !numbers { buffer.put("▸", x: x - 1, y: y, style: theme.accented) }
            }
        }
    }
}
