import JSONText
import Foundation

/// The numbers behind each figure as JSON (Python-json style: ", " and ": ", shortest-repr floats) and CSV
/// (a header row; fields with a comma, a quote, a line break or an edge space quoted, RFC 4180).
enum DataWriters {
    static func json(_ figure: Figure) -> String {
        let view = JSONValue.string(figure.viewName)
        let value: JSONValue
        switch figure {
        case .attention(let d):
            value = .object([("model", .string(d.model)), ("view", view), ("layer", .int(d.layer)), ("head", d.mode == "rollout" || d.head == 0 ? .null : .int(d.head)),
                             ("mode", .string(d.mode)), ("tokens", .array(d.tokens.map(JSONValue.string))),
                             ("matrix", .array(d.matrix.map { .array($0.map(JSONValue.number)) }))])
        case .overview(let d):
            value = .object([("model", .string(d.model)), ("view", view), ("statistic", .string(d.statistic)),
                             ("values", .array(d.values.map { .array($0.map { $0.map(JSONValue.number) ?? .null }) }))])
        case .candidates(let d):
            value = .object([("model", .string(d.model)), ("view", view), ("text", .string(d.text)), ("masks", masks(d.masks))])
        case .compare(let d):
            let count = max(d.left.masks.count, d.right.masks.count)
            value = .object([("view", view), ("text", .string(d.text)),
                             ("models", .array([.string(d.left.model), .string(d.right.model)])),
                             ("masks", .array((0..<count).map { i in
                                 var fields: [(String, JSONValue)] = [("mask", .int(i + 1))]
                                 let side = i < d.left.masks.count ? d.left.masks[i] : d.right.masks[i]
                                 fields.append(("position", .int(side.position)))
                                 fields.append(("left", i < d.left.masks.count ? candidates(d.left.masks[i].candidates) : .null))
                                 fields.append(("right", i < d.right.masks.count ? candidates(d.right.masks[i].candidates) : .null))
                                 if i < d.measures.count {
                                     fields.append(("measures", .object(d.measures[i].map { ($0.name, .number($0.value)) })))
                                 }
                                 return .object(fields)
                             }))])
        case .lens(let d):
            value = .object([("model", .string(d.model)), ("view", view), ("text", .string(d.text)),
                             ("masks", .array(d.masks.enumerated().map { i, mask in
                                 .object([("mask", .int(i + 1)), ("position", .int(mask.position)),
                                          ("layers", .array(mask.rows.enumerated().map { l, row in
                                              .object([("layer", .int(l)), ("top", candidates(row.top)),
                                                       ("final_top_rank", .int(row.finalTopRank)),
                                                       ("final_top_score", .number(row.finalTopScore))])
                                          }))])
                             }))])
        case .headStats(let d):
            value = .object([("model", .string(d.model)), ("view", view), ("text", .string(d.text)),
                             ("heads", .array(headRows(d).map { layer, head, s in
                                 .object([("layer", .int(layer)), ("head", .int(head)), ("entropy", .number(s.entropy)),
                                          ("entropy_max", .number(s.entropyMax)), ("to_bos", .number(s.toBOS)),
                                          ("to_eos", .number(s.toEOS)), ("to_prev", .number(s.toPrev)), ("to_self", .number(s.toSelf)),
                                          ("to_next", .number(s.toNext)), ("to_punct", s.toPunct.map(JSONValue.number) ?? .null),
                                          ("label", .string(s.label))])
                             }))])
        }
        return value.serialized() + "\n"
    }

    static func csv(_ figure: Figure) -> String {
        var rows: [[String]] = []
        switch figure {
        case .attention(let d):
            rows.append([""] + d.tokens)
            for (q, row) in d.matrix.enumerated() { rows.append([d.tokens[q]] + row.map(number)) }
        case .overview(let d):
            rows.append(["layer"] + (0..<(d.values.first?.count ?? 0)).map { "head \($0 + 1)" })
            for (l, row) in d.values.enumerated() { rows.append([String(l + 1)] + row.map { $0.map(number) ?? "" }) }
        case .candidates(let d):
            rows.append(["mask", "position", "rank", "token", "token_str", "score"])
            for (i, mask) in d.masks.enumerated() {
                for (r, c) in mask.candidates.enumerated() {
                    rows.append([String(i + 1), String(mask.position), String(r + 1), String(c.token), c.tokenStr, number(c.score)])
                }
            }
        case .compare(let d):
            rows.append(["mask", "position", "model", "rank", "token", "token_str", "score"])
            let count = max(d.left.masks.count, d.right.masks.count)
            for i in 0..<count {
                for side in [d.left, d.right] where i < side.masks.count {
                    let mask = side.masks[i]
                    for (r, c) in mask.candidates.enumerated() {
                        rows.append([String(i + 1), String(mask.position), side.model, String(r + 1), String(c.token), c.tokenStr, number(c.score)])
                    }
                }
            }
        case .lens(let d):
            rows.append(["mask", "position", "layer", "rank", "token", "token_str", "score", "final_top_rank", "final_top_score"])
            for (i, mask) in d.masks.enumerated() {
                for (l, row) in mask.rows.enumerated() {
                    for (r, c) in row.top.enumerated() {
                        rows.append([String(i + 1), String(mask.position), String(l), String(r + 1), String(c.token), c.tokenStr,
                                     number(c.score), String(row.finalTopRank), number(row.finalTopScore)])
                    }
                }
            }
        case .headStats(let d):
            rows.append(["layer", "head", "entropy", "entropy_max", "to_bos", "to_eos", "to_prev", "to_self", "to_next", "to_punct", "label"])
            for (layer, head, s) in headRows(d) {
                rows.append([String(layer), String(head), number(s.entropy), number(s.entropyMax), number(s.toBOS), number(s.toEOS),
                             number(s.toPrev), number(s.toSelf), number(s.toNext), s.toPunct.map(number) ?? "", s.label])
            }
        }
        return rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    private static func headRows(_ d: HeadStatsFigure) -> [(Int, Int, HeadStat)] {
        d.stats.enumerated().flatMap { l, heads in heads.enumerated().map { h, s in (l + 1, h + 1, s) } }
    }

    private static func candidates(_ list: [FigureCandidate]) -> JSONValue {
        .array(list.enumerated().map { r, c in
            .object([("rank", .int(r + 1)), ("token", .int(c.token)), ("token_str", .string(c.tokenStr)), ("score", .number(c.score))])
        })
    }

    private static func masks(_ masks: [MaskCandidates]) -> JSONValue {
        .array(masks.enumerated().map { i, mask in
            .object([("mask", .int(i + 1)), ("position", .int(mask.position)), ("candidates", candidates(mask.candidates))])
        })
    }

    /// A number as JSON and CSV write it: the shortest text that reads back as the same double.
    static func number(_ v: Double) -> String {
        v.isNaN ? "NaN" : v.isInfinite ? (v < 0 ? "-Infinity" : "Infinity") : v.description
    }

    static func field(_ s: String) -> String {
        let needsQuotes = s.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || s.hasPrefix(" ") || s.hasSuffix(" ")
        return needsQuotes ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
