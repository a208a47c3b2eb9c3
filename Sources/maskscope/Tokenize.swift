import JSONText
import ArgumentParser
import Foundation
import Requests
import ModelStore
import RoBERTa
import Tokenizer

/// `maskscope tokenize`: ids, byte-level tokens, offsets and the BPE merges behind each word.
struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show token ids, byte-level tokens, offsets and the BPE merges that produced each token.",
        discussion: """
            Reads only the tokenizer files (vocab.json, merges.txt) of the model directory.
            With --json prints {"ids", "tokens", "offsets": [[start, end]], "words": [merge trace per word]};
            offsets count Unicode code points, as the tokenizers library reports them.
            """)

    @Option(name: .long, help: ArgumentHelp("A model directory (only vocab.json and merges.txt, or tokenizer.json, are read) or a name, as for predict. Default: the first model in the cache, else pocket-teacher.", valueName: "name|dir"))
    var model: String?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(name: .customLong("no-special-tokens"), help: "Leave out <s> and </s>.")
    var noSpecialTokens = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let tokenizer = try openModel(model) { try RobertaModel.loadTokenizer(directory: $0.directory) }.model
        let encoding = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens, trace: true)
        if json {
            emit(tokenizeJSON(encoding).serialized())
        } else {
            for line in tokenizeText(encoding, text: text) { emit(line) }
        }
    }
}

func tokenizeJSON(_ encoding: Encoding) -> JSONValue {
    func range(_ r: Range<Int>) -> JSONValue { .array([.int(r.lowerBound), .int(r.upperBound)]) }
    func strings(_ s: [String]) -> JSONValue { .array(s.map { .string($0) }) }
    let words = encoding.words.map { word in
        JSONValue.object([
            ("text", .string(word.text)),
            ("offsets", range(word.range)),
            ("kind", .string(word.kind == .bpe ? "bpe" : "added_token")),
            ("byte_level", .string(word.byteLevel)),
            ("symbols", strings(word.initialSymbols)),
            ("merges", .array(word.steps.map { step in
                .object([("pair", strings([step.left, step.right])), ("rank", .int(step.rank)),
                         ("position", .int(step.position)), ("merged", .string(step.merged)), ("symbols", strings(step.after))])
            })),
            ("tokens", .array(word.tokens.map { t in
                .object([("id", .int(t.id)), ("token", .string(t.token)), ("offsets", range(t.offsets))])
            })),
        ])
    }
    return .object([
        ("ids", .array(encoding.ids.map { .int($0) })),
        ("tokens", strings(encoding.tokens)),
        ("offsets", .array(encoding.offsets.map(range))),
        ("words", .array(words)),
    ])
}

func tokenizeText(_ encoding: Encoding, text: String) -> [String] {
    let scalars = Array(text.unicodeScalars)
    func slice(_ r: Range<Int>) -> String {
        guard r.lowerBound >= 0, r.upperBound <= scalars.count, !r.isEmpty else { return "" }
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars[r])
        return String(s)
    }
    var lines = [pad("index", 7) + pad("id", 8) + pad("token", 16) + pad("offsets", 10) + "text"]
    for i in encoding.ids.indices {
        let r = encoding.offsets[i]
        lines.append(pad(String(i), 7) + pad(String(encoding.ids[i]), 8) + pad(encoding.tokens[i], 16)
                     + pad("\(r.lowerBound)-\(r.upperBound)", 10) + visible(slice(r)))
    }
    lines.append("")
    lines.append("merges (byte-level symbols; Ġ is a space, Ċ a newline):")
    for word in encoding.words {
        let span = "\(word.range.lowerBound)-\(word.range.upperBound)"
        if word.kind == .addedToken {
            lines.append("  \(word.byteLevel)  [\(span)] added token, no merges")
            continue
        }
        lines.append("  \(word.byteLevel)  [\(span)]  start: \(word.initialSymbols.joined(separator: " "))")
        for step in word.steps {
            lines.append("    rank " + pad(String(step.rank), 7) + pad("\(step.left) + \(step.right)", 20)
                         + "-> " + step.after.joined(separator: " "))
        }
        lines.append("    tokens: " + word.tokens.map { "\($0.token) (\($0.id))" }.joined(separator: ", "))
    }
    return lines
}
