import Foundation

/// Lays out each view into a `Drawing`: sizes grow with the data (tokens, layers, masks) so labels stay legible.
public enum Layout {
    /// A heatmap is drawn for at most this many tokens; beyond it the labels would be too small to read.
    public static let maxHeatmapTokens = 256

    static let margin = 24.0
    static let titleSize = 15.0
    static let subtitleSize = 10.5
    static let labelSize = 10.0
    static let longestLabel = 130.0

    /// The figure for `figure` in `style`.
    public static func drawing(for figure: Figure, style: FigureStyle) throws -> Drawing {
        var builder = Builder(style: style)
        switch figure {
        case .attention(let data): try builder.heatmap(data)
        case .overview(let data): try builder.overview(data)
        case .candidates(let data): try builder.candidates(data)
        case .compare(let data): try builder.compare(data)
        case .lens(let data): try builder.lens(data)
        case .headStats(let data): try builder.headStats(data)
        }
        return builder.drawing
    }

    /// A token as a reader reads it: whitespace made visible (a leading space as "␣" only when alone).
    static func readable(_ token: String) -> String {
        var out = ""
        for ch in token {
            switch ch {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.append(ch)
            }
        }
        if out.isEmpty { return "∅" }
        if out.allSatisfy({ $0 == " " }) { return String(repeating: "␣", count: out.count) }
        return out
    }

    /// A candidate's token string, its leading space shown as "␣".
    static func candidateLabel(_ tokenStr: String) -> String {
        tokenStr.hasPrefix(" ") ? "␣" + readable(String(tokenStr.dropFirst())) : readable(tokenStr)
    }

    /// A value for a cell or a tick.
    static func format(_ value: Double, digits: Int) -> String { String(format: "%.\(digits)f", value) }
}

/// Accumulates the items of one drawing.
struct Builder {
    let style: FigureStyle
    let measure = TextMeasure()
    var drawing: Drawing

    init(style: FigureStyle) {
        self.style = style
        drawing = Drawing(width: 0, height: 0, background: style.background, title: "")
    }

    // MARK: primitives

    mutating func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, fill: FigureColor?, stroke: FigureColor? = nil,
                       strokeWidth: Double = 1, tag: String? = nil, hover: String? = nil) {
        drawing.items.append(.rect(.init(x: x, y: y, width: w, height: h, fill: fill, stroke: stroke, strokeWidth: strokeWidth,
                                         tag: tag, hover: hover)))
    }

    mutating func text(_ s: String, _ x: Double, _ y: Double, size: Double = Layout.labelSize, color: FigureColor? = nil,
                       anchor: DrawingItem.Anchor = .start, rotation: Double = 0, bold: Bool = false) {
        drawing.items.append(.text(.init(string: s, x: x, y: y, size: size, color: color ?? style.text, anchor: anchor,
                                         rotation: rotation, bold: bold)))
    }

    mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: FigureColor? = nil, width: Double = 1) {
        drawing.items.append(.line(.init(x1: x1, y1: y1, x2: x2, y2: y2, color: color ?? style.dim, width: width)))
    }

    func width(_ s: String, size: Double = Layout.labelSize, bold: Bool = false) -> Double {
        measure.width(s, size: size, bold: bold)
    }

    /// Text colour that reads on `fill`.
    func textColor(on fill: FigureColor) -> FigureColor {
        fill.luminance > 0.36 ? .black : .white
    }

    // MARK: shared pieces

    /// The title (bold) and the text under it; returns the y below them. `minWidth` is what the title needs.
    mutating func titleBlock(_ title: String, subtitle: String) -> (bottom: Double, width: Double) {
        drawing.title = title
        let m = Layout.margin
        text(title, m, m + Layout.titleSize, size: Layout.titleSize, bold: true)
        var bottom = m + Layout.titleSize + 6
        var needed = width(title, size: Layout.titleSize, bold: true)
        if !subtitle.isEmpty {
            let shown = measure.fitted(subtitle, size: Layout.subtitleSize, width: 900)
            text(shown, m, bottom + Layout.subtitleSize + 2, size: Layout.subtitleSize, color: style.dim)
            bottom += Layout.subtitleSize + 8
            needed = max(needed, width(shown, size: Layout.subtitleSize))
        }
        return (bottom + 10, needed + 2 * m)
    }

    /// A vertical colour bar from `low` (bottom) to `high` (top) with ticks and a rotated label; returns the width used.
    mutating func colorBar(x: Double, y: Double, height: Double, low: Double, high: Double, label: String) -> Double {
        let barWidth = 14.0, steps = 96
        for i in 0..<steps {
            let t = (Double(i) + 0.5) / Double(steps)
            let top = y + height * (1 - Double(i + 1) / Double(steps))
            rect(x, top, barWidth, height / Double(steps) + 0.6, fill: style.color(at: t))
        }
        rect(x, y, barWidth, height, fill: nil, stroke: style.dim, strokeWidth: 0.6)
        let (ticks, digits) = Builder.ticks(low: low, high: high)
        var labelWidth = 0.0
        for tick in ticks {
            let ty = y + height * (1 - (tick - low) / max(high - low, 1e-12))
            line(x + barWidth, ty, x + barWidth + 4, ty, color: style.dim, width: 0.8)
            let s = Layout.format(tick, digits: digits)
            text(s, x + barWidth + 6, ty + 3.5, size: 9, color: style.text)
            labelWidth = max(labelWidth, width(s, size: 9))
        }
        let labelX = x + barWidth + 6 + labelWidth + 14
        text(measure.fitted(label, size: 10, width: height), labelX, y + height / 2, size: 10, color: style.text, anchor: .middle, rotation: 90)
        return labelX - x + 4
    }

    /// Round tick values covering low…high (about five), and the decimals to print them with.
    static func ticks(low: Double, high: Double) -> ([Double], Int) {
        // A scale with nothing on it (an all-zero map, e.g. the norms of a knocked-out head): one tick.
        guard high - low >= 1e-6 else { return ([low], low == low.rounded() ? 0 : 6) }
        let span = high - low
        let raw = span / 5
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var ticks: [Double] = []
        var v = (low / step).rounded(.up) * step
        while v <= high + step * 1e-9 {
            ticks.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        let digits = max(0, min(6, Int(-floor(log10(step)) + (step / power == 2.5 ? 1 : 0))))
        return (ticks, digits)
    }

    mutating func finish(width: Double, height: Double) {
        drawing.width = width.rounded(.up)
        drawing.height = height.rounded(.up)
    }

    // MARK: the attention heatmap

    mutating func heatmap(_ data: HeatmapFigure) throws {
        let n = data.tokens.count
        guard n > 0 else { throw FigureError.empty(view: "attention", reason: "the text has no tokens") }
        guard n <= Layout.maxHeatmapTokens else { throw FigureError.tooManyTokens(count: n, cap: Layout.maxHeatmapTokens) }
        guard data.matrix.count == n, data.matrix.allSatisfy({ $0.count == n }) else {
            throw FigureError.inconsistent("\(n) tokens but the matrix is \(data.matrix.count) x \(data.matrix.first?.count ?? 0)")
        }
        let labels = (data.labels.count == n ? data.labels : data.tokens).map(Layout.readable)
        let cell: Double = n <= 12 ? 30 : n <= 24 ? 24 : n <= 48 ? 18 : n <= 96 ? 14 : 12
        let size = min(Layout.labelSize, cell - 3)
        let shown = labels.map { measure.fitted($0, size: size, width: Layout.longestLabel) }
        let labelWidth = shown.map { width($0, size: size) }.max() ?? 0
        let peak = max(data.matrix.joined().filter(\.isFinite).max() ?? 0, 1e-9)

        let title = data.mode == "rollout"
            ? "Attention rollout · \(data.model) · layers 1-\(data.layer), all heads"
            : "Attention · \(data.model) · layer \(data.layer), \(data.head == 0 ? "mean over heads" : "head \(data.head)") · \(data.mode)"
        let (top, titleWidth) = titleBlock(title, subtitle: data.text)
        let m = Layout.margin
        let gridX = m + 20 + labelWidth + 8, gridY = top + 4
        let side = Double(n) * cell
        for q in 0..<n {
            for k in 0..<n {
                let value = data.matrix[q][k]
                rect(gridX + Double(k) * cell, gridY + Double(q) * cell, cell, cell, fill: style.color(at: value / peak),
                     tag: "cell \(q) \(k)",
                     hover: "query \(q) \(labels[q]) → key \(k) \(labels[k]): \(Layout.format(value, digits: 4))")
            }
        }
        rect(gridX, gridY, side, side, fill: nil, stroke: style.dim, strokeWidth: 0.6)
        for (q, label) in shown.enumerated() {
            text(label, gridX - 6, gridY + (Double(q) + 0.5) * cell + size * 0.35, size: size, anchor: .end)
        }
        for (k, label) in shown.enumerated() {
            text(label, gridX + (Double(k) + 0.5) * cell + size * 0.35, gridY + side + 6, size: size, anchor: .end, rotation: 90)
        }
        text("query", m + 10, gridY + side / 2, size: 10.5, color: style.dim, anchor: .middle, rotation: 90)
        let keyTitleY = gridY + side + 6 + labelWidth + 18
        text("key (attended to)", gridX + side / 2, keyTitleY, size: 10.5, color: style.dim, anchor: .middle)

        let barHeight = max(120, min(side, 320))
        let used = colorBar(x: gridX + side + 18, y: gridY, height: barHeight, low: 0, high: peak,
                            label: ["weights": "attention weight", "norms": "norm ‖α f(x)‖", "rollout": "rolled-out attention"][data.mode] ?? data.mode)
        finish(width: max(gridX + side + 18 + used + m, titleWidth), height: keyTitleY + m)
    }

    // MARK: the layers x heads overview

    mutating func overview(_ data: OverviewFigure) throws {
        let layers = data.values.count, heads = data.values.first?.count ?? 0
        guard layers > 0, heads > 0 else { throw FigureError.empty(view: "overview", reason: "no layers or heads") }
        guard data.values.allSatisfy({ $0.count == heads }) else { throw FigureError.inconsistent("layers with different numbers of heads") }
        let title = "Heads · \(data.model) · \(data.statisticTitle)"
        let (top, titleWidth) = titleBlock(title, subtitle: data.text)
        let m = Layout.margin
        let cellW = 46.0, cellH = 28.0
        let rowLabelWidth = width("layer \(layers)")
        let gridX = m + rowLabelWidth + 8, gridY = top + 18
        for h in 0..<heads {
            text("head \(h + 1)", gridX + (Double(h) + 0.5) * cellW, gridY - 6, size: 9, color: style.dim, anchor: .middle)
        }
        for l in 0..<layers {
            text("layer \(l + 1)", gridX - 8, gridY + (Double(l) + 0.5) * cellH + 3.5, size: Layout.labelSize, anchor: .end)
            for h in 0..<heads {
                let x = gridX + Double(h) * cellW, y = gridY + Double(l) * cellH
                if let value = data.values[l][h] {
                    let fill = style.color(at: value)
                    rect(x, y, cellW, cellH, fill: fill, tag: "cell \(l + 1) \(h + 1)",
                         hover: "layer \(l + 1), head \(h + 1): \(data.statisticTitle) \(Layout.format(value, digits: 4))")
                    text(Layout.format(value, digits: 2), x + cellW / 2, y + cellH / 2 + 3.5, size: 9, color: textColor(on: fill), anchor: .middle)
                } else {
                    rect(x, y, cellW, cellH, fill: style.background.mixed(with: style.dim, 0.25), tag: "cell \(l + 1) \(h + 1)",
                         hover: "layer \(l + 1), head \(h + 1): no value")
                    text("–", x + cellW / 2, y + cellH / 2 + 3.5, size: 9, color: style.dim, anchor: .middle)
                }
            }
        }
        let gridW = Double(heads) * cellW, gridH = Double(layers) * cellH
        rect(gridX, gridY, gridW, gridH, fill: nil, stroke: style.dim, strokeWidth: 0.6)
        if let selected = data.selected, (1...layers).contains(selected.layer), (1...heads).contains(selected.head) {
            // Two rings (text colour outside, background inside) so the outline reads on dark and light cells.
            let x = gridX + Double(selected.head - 1) * cellW, y = gridY + Double(selected.layer - 1) * cellH
            rect(x + 1.25, y + 1.25, cellW - 2.5, cellH - 2.5, fill: nil, stroke: style.text, strokeWidth: 2.5)
            rect(x + 3, y + 3, cellW - 6, cellH - 6, fill: nil, stroke: style.background, strokeWidth: 1)
        }
        let used = colorBar(x: gridX + gridW + 18, y: gridY, height: max(120, min(gridH, 320)), low: 0, high: 1, label: data.statisticTitle)
        let bottom = gridY + max(gridH, max(120, min(gridH, 320)))
        finish(width: max(gridX + gridW + 18 + used + m, titleWidth), height: bottom + m)
    }

    // MARK: candidates

    /// One block of bars for one mask's candidates at (x, y); returns its size. `scaleTo` is the score a full bar means.
    mutating func bars(_ mask: MaskCandidates, index: Int, heading: String, headingColor: FigureColor? = nil, x: Double, y: Double,
                       scaleTo: Double, barColor: FigureColor, tagPrefix: String, labelWidth: Double) -> (width: Double, height: Double) {
        let rowH = 20.0, barMax = 260.0
        text(heading, x, y + 12, size: 11, color: headingColor, bold: true)
        var rowY = y + 22
        for (r, c) in mask.candidates.enumerated() {
            text("\(r + 1).", x + 18, rowY + 14, size: Layout.labelSize, color: style.dim, anchor: .end)
            let label = measure.fitted(Layout.candidateLabel(c.tokenStr), size: Layout.labelSize, width: Layout.longestLabel)
            text(label, x + 24, rowY + 14, size: Layout.labelSize)
            let barX = x + 24 + labelWidth + 8
            let length = max(0, min(1, c.score / max(scaleTo, 1e-12))) * barMax
            rect(barX, rowY + 4, barMax, rowH - 8, fill: style.background.mixed(with: style.dim, 0.12))
            rect(barX, rowY + 4, max(length, 0.5), rowH - 8, fill: barColor, tag: "\(tagPrefix) \(index) \(r + 1)",
                 hover: "mask \(index + 1), rank \(r + 1): \(Layout.candidateLabel(c.tokenStr)) (id \(c.token)) \(Layout.format(c.score, digits: 4))")
            text(Layout.format(c.score, digits: 4), barX + barMax + 6, rowY + 14, size: 9, color: style.text)
            rowY += rowH
        }
        return (24 + labelWidth + 8 + barMax + 6 + width("0.0000", size: 9), rowY - y)
    }

    func candidateLabelWidth(_ masks: [MaskCandidates]) -> Double {
        masks.flatMap(\.candidates).map {
            width(measure.fitted(Layout.candidateLabel($0.tokenStr), size: Layout.labelSize, width: Layout.longestLabel))
        }.max() ?? 0
    }

    mutating func candidates(_ data: CandidatesFigure) throws {
        guard !data.masks.isEmpty else { throw FigureError.empty(view: "candidates", reason: "the text has no <mask>") }
        let (top, titleWidth) = titleBlock("Candidates · \(data.model)", subtitle: data.text)
        let m = Layout.margin
        let scale = data.masks.flatMap(\.candidates).map(\.score).max() ?? 1
        let labelWidth = candidateLabelWidth(data.masks)
        var y = top + 4, widest = 0.0
        for (i, mask) in data.masks.enumerated() {
            let size = bars(mask, index: i, heading: "mask \(i + 1) · token \(mask.position)", x: m, y: y, scaleTo: scale,
                            barColor: style.bar, tagPrefix: "bar", labelWidth: labelWidth)
            widest = max(widest, size.width)
            y += size.height + 16
        }
        text("bar length: probability, relative to the highest shown (\(Layout.format(scale, digits: 4)))", m, y + 2, size: 9, color: style.dim)
        finish(width: max(m + widest + m, titleWidth), height: y + 10 + m)
    }

    // MARK: compare two models

    mutating func compare(_ data: CompareFigure) throws {
        guard !data.left.masks.isEmpty else { throw FigureError.empty(view: "compare", reason: "the text has no <mask>") }
        let title = "Compare · \(data.left.model) vs \(data.right.model)"
        let (top, titleWidth) = titleBlock(title, subtitle: data.text)
        let m = Layout.margin
        let all = data.left.masks + data.right.masks
        let scale = all.flatMap(\.candidates).map(\.score).max() ?? 1
        let labelWidth = candidateLabelWidth(all)
        let columnWidth = 24 + labelWidth + 8 + 260 + 6 + width("0.0000", size: 9) + 28
        text(data.left.model, m, top + 12, size: 12, color: style.bar, bold: true)
        text(data.right.model, m + columnWidth, top + 12, size: 12, color: style.secondBar, bold: true)
        var y = top + 26
        for i in 0..<max(data.left.masks.count, data.right.masks.count) {
            var height = 0.0
            if i < data.left.masks.count {
                let mask = data.left.masks[i]
                height = bars(mask, index: i, heading: "mask \(i + 1) · token \(mask.position)", x: m, y: y, scaleTo: scale,
                              barColor: style.bar, tagPrefix: "left", labelWidth: labelWidth).height
            }
            if i < data.right.masks.count {
                let mask = data.right.masks[i]
                height = max(height, bars(mask, index: i, heading: "mask \(i + 1) · token \(mask.position)", x: m + columnWidth, y: y,
                                          scaleTo: scale, barColor: style.secondBar, tagPrefix: "right", labelWidth: labelWidth).height)
            }
            y += height + 4
            if i < data.measures.count, !data.measures[i].isEmpty {
                let line = data.measures[i].map { "\($0.name) \(Layout.format($0.value, digits: 4))" }.joined(separator: "   ")
                text(line, m, y + 10, size: 9.5, color: style.dim)
                y += 16
            }
            y += 14
        }
        text("bar length: probability, relative to the highest shown (\(Layout.format(scale, digits: 4)))", m, y + 2, size: 9, color: style.dim)
        finish(width: max(m + 2 * columnWidth - 28 + m, titleWidth), height: y + 10 + m)
    }

    // MARK: the logit lens

    mutating func lens(_ data: LensFigure) throws {
        guard !data.masks.isEmpty else { throw FigureError.empty(view: "lens", reason: "the text has no <mask>") }
        let (top, titleWidth) = titleBlock("Logit lens · \(data.model)", subtitle: data.text)
        let m = Layout.margin
        let k = data.masks.flatMap(\.rows).map(\.top.count).max() ?? 0
        guard k > 0 else { throw FigureError.empty(view: "lens", reason: "no candidates per layer") }
        let cellW = 84.0, cellH = 22.0
        let layers = data.masks.map(\.rows.count).max() ?? 0
        let rowLabelWidth = width("layer \(max(layers - 1, 1))")
        let gridX = m + rowLabelWidth + 8
        var y = top + 4
        let finalX = gridX + Double(k) * cellW + 10
        let finalWidth = data.masks.flatMap(\.rows).map {
            width("rank \($0.finalTopRank), \(Layout.format($0.finalTopScore, digits: 4))", size: 9)
        }.max() ?? 0
        for (i, mask) in data.masks.enumerated() {
            let finalToken = mask.rows.last?.top.first.map { Layout.candidateLabel($0.tokenStr) } ?? "?"
            text("mask \(i + 1) · token \(mask.position) · final top: \(finalToken)", m, y + 12, size: 11, bold: true)
            let gridY = y + 34
            for r in 0..<k {
                text("rank \(r + 1)", gridX + (Double(r) + 0.5) * cellW, gridY - 6, size: 9, color: style.dim, anchor: .middle)
            }
            text("final top", finalX, gridY - 6, size: 9, color: style.dim)
            for (l, row) in mask.rows.enumerated() {
                let rowY = gridY + Double(l) * cellH
                text(l == 0 ? "embed" : "layer \(l)", gridX - 8, rowY + cellH / 2 + 3.5, anchor: .end)
                for (r, c) in row.top.enumerated() {
                    let fill = style.color(at: c.score)
                    let x = gridX + Double(r) * cellW
                    rect(x, rowY, cellW, cellH, fill: fill, tag: "lens \(i) \(l) \(r + 1)",
                         hover: "\(l == 0 ? "embeddings" : "layer \(l)"), rank \(r + 1): \(Layout.candidateLabel(c.tokenStr)) \(Layout.format(c.score, digits: 4))")
                    text(measure.fitted(Layout.candidateLabel(c.tokenStr), size: 9, width: cellW - 8), x + cellW / 2, rowY + cellH / 2 + 3.3,
                         size: 9, color: textColor(on: fill), anchor: .middle)
                }
                text("rank \(row.finalTopRank), \(Layout.format(row.finalTopScore, digits: 4))", finalX, rowY + cellH / 2 + 3.3, size: 9)
            }
            let gridH = Double(mask.rows.count) * cellH
            rect(gridX, gridY, Double(k) * cellW, gridH, fill: nil, stroke: style.dim, strokeWidth: 0.6)
            y = gridY + gridH + 18
        }
        let barX = finalX + max(finalWidth, width("final top", size: 9)) + 24
        let used = colorBar(x: barX, y: top + 38, height: max(120, min(y - top - 60, 300)), low: 0, high: 1, label: "probability")
        finish(width: max(barX + used + m, titleWidth), height: max(y, top + 38 + 120 + 10) + m)
    }

    // MARK: head statistics

    mutating func headStats(_ data: HeadStatsFigure) throws {
        let rows = data.stats.enumerated().flatMap { l, heads in heads.enumerated().map { h, s in (l + 1, h + 1, s) } }
        guard !rows.isEmpty else { throw FigureError.empty(view: "head-stats", reason: "no heads") }
        let (top, titleWidth) = titleBlock("Head statistics · \(data.model)", subtitle: data.text)
        let m = Layout.margin
        let cellW = 62.0, cellH = 18.0
        let rowLabelWidth = width("layer 99 head 99", size: 9.5)
        let gridX = m + rowLabelWidth + 8, gridY = top + 22
        let titles = HeadStat.shownTitles
        for (c, title) in titles.enumerated() {
            text(title, gridX + (Double(c) + 0.5) * cellW, gridY - 6, size: 9, color: style.dim, anchor: .middle)
        }
        let labelX = gridX + Double(titles.count) * cellW + 10
        text("label", labelX, gridY - 6, size: 9, color: style.dim)
        var labelWidth = width("label", size: 9)
        for (i, (layer, head, s)) in rows.enumerated() {
            let y = gridY + Double(i) * cellH
            text("layer \(layer) head \(head)", gridX - 8, y + cellH / 2 + 3.3, size: 9.5, anchor: .end)
            for (c, value) in s.shown.enumerated() {
                let x = gridX + Double(c) * cellW
                if let value {
                    let fill = style.color(at: value)
                    rect(x, y, cellW, cellH, fill: fill, tag: "stat \(layer) \(head) \(c)",
                         hover: "layer \(layer), head \(head): \(titles[c]) \(Layout.format(value, digits: 4))")
                    text(Layout.format(value, digits: 2), x + cellW / 2, y + cellH / 2 + 3.3, size: 9, color: textColor(on: fill), anchor: .middle)
                } else {
                    rect(x, y, cellW, cellH, fill: style.background.mixed(with: style.dim, 0.25), tag: "stat \(layer) \(head) \(c)",
                         hover: "layer \(layer), head \(head): \(titles[c]): the text has none")
                    text("–", x + cellW / 2, y + cellH / 2 + 3.3, size: 9, color: style.dim, anchor: .middle)
                }
            }
            text(s.label, labelX, y + cellH / 2 + 3.3, size: 9.5)
            labelWidth = max(labelWidth, width(s.label, size: 9.5))
            if head == 1, layer > 1 { line(gridX - rowLabelWidth - 8, y, labelX + labelWidth, y, color: style.dim, width: 0.6) }
        }
        let gridH = Double(rows.count) * cellH
        rect(gridX, gridY, Double(titles.count) * cellW, gridH, fill: nil, stroke: style.dim, strokeWidth: 0.6)
        let barX = labelX + max(labelWidth, 40) + 16
        let barH = max(120, min(gridH, 300))
        let used = colorBar(x: barX, y: gridY, height: barH, low: 0, high: 1, label: "share (0–1)")
        finish(width: max(barX + used + m, titleWidth), height: gridY + max(gridH, barH) + m)
    }
}
