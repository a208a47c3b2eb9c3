import JSONText
import ArgumentParser
import Foundation
import Requests
import RoBERTa

/// `maskscope inspect`: token ids, attention of every layer and head, and the top candidates with logits.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show token ids, every layer's attention and the top candidates (with logits) for a text.",
        discussion: """
            With --json prints {"ids", "tokens", "attention": [layer][head][query][key],
            "masks": [{"position", "top": [{"token", "token_str", "score", "logit"}]}],
            "precision": "f32"|"bf16"|"f16" (the weight matrices as the kernels read
            them), "rounded_at_load": true when --precision rounded them}, and only
            when asked:

            --lens: "lens": per mask {"position", "layers": [[{"token", "token_str",
            "score"} x K] for the embeddings' output and each layer]}; the last entry
            equals masks[].top.

            --knockout 1.2,2.4: heads LAYER.HEAD counted from 1 have their context
            zeroed before the attention output projection; masks (and lens) are those
            of the model without them, and "knockout": ["1.2", "2.4"] is echoed.

            --norms: "attention_norms": [layer][head][query][key], ||alpha_ij f(x_j)||
            (Kobayashi et al. 2020). --rollout: "rollout": [layer][query][key] (Abnar
            & Zuidema 2020). --head-stats: "head_stats": [layer][head] of {"entropy",
            "to_bos", "to_eos", "to_prev", "to_self", "to_next", "to_punct", "label"}
            (Clark et al. 2019). --head-importance: "head_importance": {"position",
            "token", "token_str", "delta": [layer][head]}, the change in log-probability
            of the top candidate at the first mask with that head alone knocked out.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (at most the model's vocabulary).", valueName: "k"))
    var topK: Int = 5

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Cut inputs longer than the model's positions instead of failing.")
    var truncate = false

    @Flag(help: "The logit lens: the top candidates at each mask after the embeddings and after every layer.")
    var lens = false

    @Option(help: ArgumentHelp("Knock out these heads (LAYER.HEAD counted from 1, comma-separated).", valueName: "L.H,..."))
    var knockout: String?

    @Flag(help: "Attention as norms ||alpha f(x)|| (Kobayashi et al. 2020).")
    var norms = false

    @Flag(help: "Attention rollout through the layers (Abnar & Zuidema 2020).")
    var rollout = false

    @Flag(name: .customLong("head-stats"), help: "Per-head entropy, attention to <s>, </s>, neighbours, punctuation, and a label.")
    var headStats = false

    @Flag(name: .customLong("head-importance"), help: "For every head, the change in log-probability of the top candidate at the first mask when that head alone is knocked out.")
    var headImportance = false

    @Argument(help: "The text, with at least one <mask>.")
    var text: String

    func validate() throws {
        try OptionBounds.check(topK, 1...Int.max, option: "--top-k")
        _ = try knockedOut()
    }

    /// --knockout as heads counted from 0.
    func knockedOut() throws -> Set<HeadRef> {
        guard let knockout else { return [] }
        var heads = Set<HeadRef>()
        for item in knockout.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let layer = Int(parts[0]), let head = Int(parts[1]), layer >= 1, head >= 1 else {
                throw ValidationError("--knockout takes heads as LAYER.HEAD counted from 1, comma-separated, e.g. 1.2,3.4 (got \(item.isEmpty ? "an empty item" : String(item)))")
            }
            heads.insert(HeadRef(layer: layer - 1, head: head - 1))
        }
        return heads
    }

    func run() throws {
        let model = try modelOptions.load().model
        try OptionBounds.checkTopK(topK, source: "--top-k", model: model)
        let heads = try knockedOut()
        let result = try model.fillMask(text, options: FillMaskOptions(
            topK: topK, truncate: truncate, capture: CaptureOptions(attention: true, norms: norms), knockout: heads))
        for message in result.warnings { warn(message) }
        let tokens = result.ids.map { model.tokenizer.token(of: $0) ?? "" }
        let lenses = lens ? try model.logitLens(ids: result.ids, topK: topK, knockout: heads) : nil
        let rolled = rollout ? result.attention.map(attentionRollout) : nil
        let stats = headStats ? result.attention.map { model.headStatistics($0, ids: result.ids) } : nil
        let importance = headImportance ? try model.headImportance(ids: result.ids) : nil
        if json {
            var object = inspectJSON(result, tokens: tokens)
            guard case .object(var fields) = object else { return }
            if !heads.isEmpty { fields.append(("knockout", .array(heads.sorted().map { .string($0.description) }))) }
            if let lenses { fields.append(("lens", lensJSON(lenses))) }
            if norms, let maps = result.encoder.norms { fields.append(("attention_norms", mapsJSON(maps))) }
            if let rolled { fields.append(("rollout", .array(mapsJSON(rolled).arrayItems.map { $0.arrayItems.first ?? .null }))) }
            if let stats { fields.append(("head_stats", headStatsJSON(stats))) }
            if let importance {
                fields.append(("head_importance", .object([
                    ("position", .int(importance.position)), ("token", .int(importance.token)),
                    ("token_str", .string(model.tokenizer.decode([importance.token]))),
                    ("delta", .array(importance.deltas.map { .array($0.map(JSONValue.number)) })),
                ])))
            }
            fields += precisionJSON(model.weightsSummary)
            object = .object(fields)
            emit(object.serialized())
            return
        }
        if !heads.isEmpty { emit("knocked out: " + heads.sorted().map(\.description).joined(separator: ", ")) }
        let rounded = model.weightsSummary.roundedFrom.isEmpty ? "" : ", \(model.weightsSummary.precisionName) weight matrices (rounded at load)"
        emit("\(model.config.numHiddenLayers) layers, \(model.config.numAttentionHeads) heads, \(result.ids.count) tokens\(rounded)")
        emit("index  id      token")
        for (i, (id, token)) in zip(result.ids, tokens).enumerated() {
            emit(pad(String(i), 7) + pad(String(id), 8) + token)
        }
        for mask in result.masks {
            emit("")
            emit("mask at token \(mask.position):")
            for (rank, c) in mask.candidates.enumerated() {
                emit("  \(rank + 1). " + pad(String(format: "%.6f", c.score), 10) + pad("logit " + String(format: "%.4f", c.logit), 16)
                     + pad(String(c.token), 8) + visible(c.tokenStr))
            }
        }
        for lens in lenses ?? [] {
            emit("")
            let final = lens.layers.last?.candidates.first.map { visible($0.tokenStr) } ?? "?"
            emit("logit lens at token \(lens.position) (top 3 after each layer; the final top \(final): rank, probability)")
            for (layer, row) in lens.layers.enumerated() {
                let top = row.candidates.prefix(3).map { visible($0.tokenStr) + " " + String(format: "%.3f", $0.score) }.joined(separator: "  ")
                emit("  " + pad(layer == 0 ? "embed" : "layer \(layer)", 9) + pad(top, 48) + "rank \(row.finalTopRank), " + String(format: "%.4f", row.finalTopScore))
            }
        }
        if let importance {
            emit("")
            emit("head importance: change of ln p(\(visible(model.tokenizer.decode([importance.token])))) at token \(importance.position) with one head knocked out")
            emit("       " + (1...model.config.numAttentionHeads).map { pad("h\($0)", 8) }.joined())
            for (layer, row) in importance.deltas.enumerated() {
                emit(pad("L\(layer + 1)", 7) + row.map { pad(String(format: "%+.3f", $0), 8) }.joined())
            }
        }
        if let stats {
            emit("")
            emit("heads (entropy / max, weight on <s>, </s>, previous, self, next, punctuation; label)")
            for (layer, row) in stats.enumerated() {
                for (head, s) in row.enumerated() {
                    let values = [s.toBOS, s.toEOS, s.toPrev, s.toSelf, s.toNext].map { String(format: "%.2f", $0) }.joined(separator: " ")
                    emit("  " + pad("\(layer + 1).\(head + 1)", 6) + pad(String(format: "%.2f/%.2f", s.entropy, s.entropyMax), 11) + values
                         + " " + (s.toPunct.map { String(format: "%.2f", $0) } ?? "  - ") + "  " + s.label)
                }
            }
        }
    }
}

func lensJSON(_ lenses: [MaskLens]) -> JSONValue {
    .array(lenses.map { lens in
        .object([("position", .int(lens.position)),
                 ("layers", .array(lens.layers.map { row in
                     .array(row.candidates.map { c in
                         .object([("token", .int(c.token)), ("token_str", .string(c.tokenStr)), ("score", .float(c.score))])
                     })
                 }))])
    })
}

/// [layer][head][query][key] of a set of maps.
func mapsJSON(_ maps: AttentionMaps) -> JSONValue {
    .array((0..<maps.layers).map { layer in
        .array((0..<maps.heads).map { head in
            let matrix = Array(maps.matrix(layer: layer, head: head))
            return .array((0..<maps.tokens).map { q in .array((0..<maps.tokens).map { k in .float(matrix[q * maps.tokens + k]) }) })
        })
    })
}

func headStatsJSON(_ stats: [[HeadStatistics]]) -> JSONValue {
    .array(stats.map { row in
        .array(row.map { s in
            .object([("entropy", .number(s.entropy)), ("entropy_max", .number(s.entropyMax)), ("to_bos", .number(s.toBOS)),
                     ("to_eos", .number(s.toEOS)), ("to_prev", .number(s.toPrev)), ("to_self", .number(s.toSelf)),
                     ("to_next", .number(s.toNext)), ("to_punct", s.toPunct.map(JSONValue.number) ?? .null), ("label", .string(s.label))])
        })
    })
}

extension JSONValue {
    /// The items of an array (empty for anything else).
    var arrayItems: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }
}

func inspectJSON(_ result: FillMaskResult, tokens: [String]) -> JSONValue {
    var attention: [JSONValue] = []
    if let maps = result.attention {
        for layer in 0..<maps.layers {
            var heads: [JSONValue] = []
            for head in 0..<maps.heads {
                let matrix = Array(maps.matrix(layer: layer, head: head))
                heads.append(.array((0..<maps.tokens).map { q in
                    .array((0..<maps.tokens).map { k in .float(matrix[q * maps.tokens + k]) })
                }))
            }
            attention.append(.array(heads))
        }
    }
    let masks = result.masks.map { mask in
        JSONValue.object([
            ("position", .int(mask.position)),
            ("top", .array(mask.candidates.map { c in
                .object([("token", .int(c.token)), ("token_str", .string(c.tokenStr)),
                         ("score", .float(c.score)), ("logit", .float(c.logit))])
            })),
        ])
    }
    return .object([
        ("ids", .array(result.ids.map { .int($0) })),
        ("tokens", .array(tokens.map { .string($0) })),
        ("attention", .array(attention)),
        ("masks", .array(masks)),
    ])
}

/// Left-aligns text in a column of the given width.
func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

/// Makes whitespace visible: a leading space as "␣", newlines and tabs escaped.
func visible(_ text: String) -> String {
    var out = ""
    for ch in text {
        switch ch {
        case " ": out += "␣"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default: out.append(ch)
        }
    }
    return out
}

/// The "precision" and "rounded_at_load" fields of bench's and inspect's --json.
func precisionJSON(_ summary: WeightsSummary) -> [(String, JSONValue)] {
    [("precision", .string(summary.precisionName)), ("rounded_at_load", .bool(!summary.roundedFrom.isEmpty))]
}
