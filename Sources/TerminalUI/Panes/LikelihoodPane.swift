import Foundation
import Workbench

/// The pseudo-log-likelihood strip under the sentence (F7; Salazar et al. 2020): what was scored, each token's
/// ln p(token | the rest) under each model in columns under the token, the sentence's pseudo-perplexity per
/// model, and, with two models that tokenized alike, the tokens where they differ most picked out (the token in
/// the span colours, the student's number in the up/down colours: higher or lower than the teacher's).
public enum LikelihoodPane {
    static let title = "Pseudo-log-likelihood"

    /// Rows the strip needs at `width` to show everything (0 while it is closed).
    public static func rows(_ state: WorkbenchState, width: Int) -> Int {
        guard let strip = state.likelihood else { return 0 }
        let layout = Layout(strip, names: names(state, strip), width: width - 2)
        return 2 + layout.bodyRows + summaryLines(state, strip, theme: .monochromeFallback).count
    }

    public static func render(_ state: WorkbenchState, theme: Theme, in rect: Rect, into buffer: inout CellBuffer) {
        guard let strip = state.likelihood, rect.height >= 2, rect.width >= 20 else { return }
        buffer.fill(rect, with: Cell(" ", theme.plain))
        let current = state.likelihoodIsCurrent
        var detail = "ln p(token | rest), each masked in turn"
        if strip.isPending { detail = "scoring…" }
        if strip.cancelled {
            detail = "cancelled: the sentence changed"
        } else if !current {
            detail = strip.source != state.text ? "for an earlier sentence" : "for other models"
        }
        PaneTitle.draw(title, detail: detail, hint: current ? "F7 hide" : "F7 score this sentence", focused: false,
                       theme: theme, in: rect, into: &buffer)
        let body = Rect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 1)
        var scored = "scored: "
        if let teacher = strip.filledBy {
            scored = strip.filled == 1 ? "<mask> ← \(teacher)'s top-1: " : "each <mask> ← \(teacher)'s top-1: "
        }
        let used = buffer.put(scored, x: body.x, y: body.y, style: theme.dimmed, maxWidth: body.width)
        buffer.put(strip.text, x: body.x + used, y: body.y, style: current ? theme.plain : theme.dimmed, maxWidth: body.width - used)

        let summaries = summaryLines(state, strip, theme: theme)
        let room = body.height - 1 - summaries.count
        let layout = Layout(strip, names: names(state, strip), width: body.width)
        let (shownTokens, rows) = drawGroups(layout, strip: strip, current: current, theme: theme,
                                             in: Rect(x: body.x, y: body.y + 1, width: body.width, height: max(0, room)), into: &buffer)
        var y = body.y + 1 + rows
        for (i, line) in summaries.enumerated() where y < body.maxY {
            var x = body.x
            if i == 0, shownTokens < layout.tokenCount {
                x += buffer.put("+\(layout.tokenCount - shownTokens) tokens not shown · ", x: x, y: y, style: theme.dimmed, maxWidth: body.maxX - x)
            }
            for (text, style) in line where x < body.maxX { x += buffer.put(text, x: x, y: y, style: style, maxWidth: body.maxX - x) }
            y += 1
        }
    }

    /// The model names the rows are labelled with, in the strip's order.
    static func names(_ state: WorkbenchState, _ strip: LikelihoodStrip) -> [String] {
        strip.models.map { state.models.indices.contains($0) ? state.models[$0].name : "model \($0 + 1)" }
    }

    /// How the tokens are laid out: the label column, then columns of tokens in groups that fit the width. When
    /// the models tokenized alike (or there is one), one token row serves every model's numbers; otherwise each
    /// model has its own token row over its numbers.
    struct Layout {
        /// The row labels: the models' names.
        var names: [String]
        var labelWidth: Int
        /// Per block: the model whose tokens head it, the models whose numbers follow, the column groups (token
        /// ranges) it wraps into, and each token's column width.
        var blocks: [(tokens: Int, models: [Int], groups: [Range<Int>], widths: [Int])]

        init(_ strip: LikelihoodStrip, names: [String], width: Int) {
            self.names = names
            labelWidth = min(16, max(6, names.map(columnWidth).max() ?? 6))
            let available = max(8, width - labelWidth - 1)
            let scores = strip.scores
            // Models whose tokens can share one row: all, when every score that came back has the same tokens.
            let tokenLists = scores.compactMap { $0 }.filter { $0.error == nil }.map(\.byteLevel)
            let shared = Set(tokenLists.map { $0.joined(separator: "\u{0}") }).count <= 1
            var blocks: [(Int, [Int], [Range<Int>], [Int])] = []
            let heads: [(Int, [Int])] = shared
                ? [(scores.firstIndex { $0 != nil && $0?.error == nil } ?? 0, Array(scores.indices))]
                : scores.indices.map { ($0, [$0]) }
            for (head, models) in heads {
                let tokens = scores.indices.contains(head) ? (scores[head]?.tokens ?? []) : []
                let widths = tokens.indices.map { i -> Int in
                    var w = min(12, columnWidth(tokens[i]))
                    for m in models { if let s = scores[m], s.error == nil, s.logProbs.indices.contains(i) { w = max(w, columnWidth(number(s.logProbs[i]))) } }
                    return max(w, 4)
                }
                var groups: [Range<Int>] = []
                var start = 0, used = 0
                for (i, w) in widths.enumerated() {
                    if i > start, used + 1 + w > available {
                        groups.append(start..<i)
                        start = i
                        used = 0
                    }
                    used += (i > start ? 1 : 0) + w
                }
                if start < widths.count || groups.isEmpty { groups.append(start..<widths.count) }
                blocks.append((head, models, groups, widths))
            }
            self.blocks = blocks.map { (tokens: $0.0, models: $0.1, groups: $0.2, widths: $0.3) }
        }

        /// Rows of all blocks: per group, a token row and one row per model.
        var bodyRows: Int { blocks.reduce(0) { $0 + $1.groups.count * (1 + $1.models.count) } }
        /// Tokens in the first block (what a cut strip says it left out).
        var tokenCount: Int { blocks.first?.widths.count ?? 0 }
    }

    /// Draws the groups that fit in `rect`; returns how many tokens of the first block were shown, and the rows used.
    static func drawGroups(_ layout: Layout, strip: LikelihoodStrip, current: Bool, theme: Theme, in rect: Rect,
                           into buffer: inout CellBuffer) -> (tokens: Int, rows: Int) {
        let highlighted = Set(strip.largestDifferences)
        let differences = strip.differences
        var y = rect.y
        var shown = 0
        for (b, block) in layout.blocks.enumerated() {
            let tokens = strip.scores.indices.contains(block.tokens) ? (strip.scores[block.tokens]?.tokens ?? []) : []
            for group in block.groups {
                guard y + block.models.count < rect.maxY else { return (shown, y - rect.y) }
                var x = rect.x + layout.labelWidth + 1
                for i in group {
                    let w = block.widths[i]
                    let style = highlighted.contains(i) && current ? theme.spanStyle : theme.dimmed
                    buffer.put(padded(tokens[i], w), x: x, y: y, style: style)
                    x += w + 1
                }
                y += 1
                for m in block.models {
                    drawModelRow(m, group: group, widths: block.widths, layout: layout, strip: strip, current: current,
                                 highlighted: highlighted, differences: differences, theme: theme, y: y, rect: rect, into: &buffer)
                    y += 1
                }
                if b == 0 { shown = group.upperBound }
            }
        }
        return (shown, y - rect.y)
    }

    static func drawModelRow(_ m: Int, group: Range<Int>, widths: [Int], layout: Layout, strip: LikelihoodStrip, current: Bool,
                             highlighted: Set<Int>, differences: [Double], theme: Theme, y: Int, rect: Rect, into buffer: inout CellBuffer) {
        buffer.put(padded(layout.names[m], layout.labelWidth), x: rect.x, y: y, style: theme.accented)
        var x = rect.x + layout.labelWidth + 1
        guard let score = strip.scores[m] else {
            buffer.put(strip.cancelled ? "not scored" : "scoring…", x: x, y: y, style: theme.dimmed, maxWidth: rect.maxX - x)
            return
        }
        if let error = score.error {
            if group.lowerBound == 0 { buffer.put(error, x: x, y: y, style: theme.errorStyle, maxWidth: rect.maxX - x) }
            return
        }
        for i in group where score.logProbs.indices.contains(i) {
            let w = widths[i]
            var style = current ? theme.plain : theme.dimmed
            // The student's number where the two differ most: up when it gives the token more probability.
            if m == 1, current, highlighted.contains(i), differences.indices.contains(i) {
                style = differences[i] > 0 ? theme.upStyle : theme.downStyle
            }
            buffer.put(rightAligned(number(score.logProbs[i]), w), x: x, y: y, style: style, maxWidth: rect.maxX - x)
            x += w + 1
        }
    }

    /// The rows under the tokens: each model's pseudo-perplexity, then where the two differ most.
    static func summaryLines(_ state: WorkbenchState, _ strip: LikelihoodStrip, theme: Theme) -> [[(String, Style)]] {
        let names = Self.names(state, strip)
        var perplexity: [(String, Style)] = [("pseudo-perplexity", theme.dimmed)]
        for (m, name) in names.enumerated() {
            perplexity.append((m == 0 ? " " : " · ", theme.dimmed))
            if names.count > 1 { perplexity.append((name + " ", theme.dimmed)) }
            guard let score = strip.scores[m], score.error == nil else {
                perplexity.append(("–", theme.dimmed))
                continue
            }
            perplexity.append((String(format: "%.2f", score.pseudoPerplexity), theme.accented))
            if names.count == 1 { perplexity.append((String(format: " · pll %.2f over %d tokens", score.pll, score.logProbs.count), theme.dimmed)) }
        }
        let finished = strip.scores.compactMap { $0 }.filter { $0.error == nil }
        if finished.count == 2, !strip.sameTokens {
            return [perplexity, [("tokenized differently: compare the pseudo-perplexities, not token by token", theme.dimmed)]]
        }
        let largest = strip.largestDifferences
        guard !largest.isEmpty, let tokens = strip.scores[0]?.tokens else { return [perplexity] }
        let differences = strip.differences
        var apart: [(String, Style)] = [("most apart (student − teacher):", theme.dimmed)]
        for i in largest {
            apart.append((" " + tokens[i] + " ", theme.plain))
            apart.append((String(format: "%+.2f", differences[i]), differences[i] > 0 ? theme.upStyle : theme.downStyle))
        }
        return [perplexity, apart]
    }

    /// ln p as the strip writes it.
    static func number(_ value: Double) -> String { String(format: "%.2f", value) }
}
