import ArgumentParser
import Foundation
import RoBERTa

/// `maskscope inspect`: token ids, attention of every layer and head, and the top candidates with logits.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show token ids, every layer's attention and the top candidates (with logits) for a text.",
        discussion: """
            With --json prints {"ids", "tokens", "attention": [layer][head][query][key],
            "masks": [{"position", "top": [{"token", "token_str", "score", "logit"}]}]}.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (at most the model's vocabulary).", valueName: "k"))
    var topK: Int = 5

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Cut inputs longer than the model's positions instead of failing.")
    var truncate = false

    @Argument(help: "The text, with at least one <mask>.")
    var text: String

    func validate() throws {
        try OptionBounds.check(topK, 1...Int.max, option: "--top-k")
    }

    func run() throws {
        let model = try modelOptions.load().model
        try OptionBounds.checkTopK(topK, source: "--top-k", model: model)
        let result = try model.fillMask(text, options: FillMaskOptions(
            topK: topK, truncate: truncate, capture: CaptureOptions(attention: true)))
        for message in result.warnings { warn(message) }
        let tokens = result.ids.map { model.tokenizer.token(of: $0) ?? "" }
        if json {
            emit(inspectJSON(result, tokens: tokens).serialized())
            return
        }
        emit("\(model.config.numHiddenLayers) layers, \(model.config.numAttentionHeads) heads, \(result.ids.count) tokens")
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
