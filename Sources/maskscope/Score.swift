import JSONText
import ArgumentParser
import Foundation
import Requests
import RoBERTa
import Scoring

/// `maskscope score`: pseudo-log-likelihood scores of sentences (Salazar et al. 2020).
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score sentences by pseudo-log-likelihood: every token masked in turn, one batched pass.",
        discussion: """
            Each token but <s> and </s> is masked in turn and the model's
            log-probability of the original token there is read (natural logs); pll is
            their sum and the pseudo-perplexity exp(-pll / tokens). The masked copies of
            all texts run packed in batched passes.

            Texts come from the arguments, or one per line from standard input. The
            table marks a token that continues the word before it with "-".

            With --json prints a list with one {"text", "tokens", "token_log_probs",
            "pll", "pseudo_perplexity"} per text (tokens as byte-level vocabulary
            strings, Ġ for a space).
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Flag(help: "Print JSON.")
    var json = false

    @Argument(help: "Sentences to score (without <mask>); none: read one per line from standard input.")
    var texts: [String] = []

    func run() throws {
        var texts = self.texts
        if texts.isEmpty {
            guard isatty(STDIN_FILENO) == 0 else {
                throw ValidationError("give the sentences to score as arguments, or one per line on standard input")
            }
            let data = try WholeInput.read("-", what: "sentences", limit: 64 << 20,
                                           hint: "give the sentences to score as arguments, or one per line through a pipe")
            guard let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure("standard input is not UTF-8 text; give one sentence per line in UTF-8")
            }
            texts = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            guard !texts.isEmpty else { throw CommandFailure("standard input holds no sentence; give one per line") }
        }
        let model = try modelOptions.load().model
        let scores = try model.pseudoLogLikelihoods(texts)
        if json {
            emit(JSONValue.array(scores.map(Self.json)).serialized())
        } else {
            emit(scores.map { Self.table($0, tokenizer: model) }.joined(separator: "\n\n"))
        }
    }

    static func json(_ score: SentenceScore) -> JSONValue {
        .object([
            ("text", .string(score.text)),
            ("tokens", .array(score.tokens.map(JSONValue.string))),
            ("token_log_probs", .array(score.tokenLogProbs.map(JSONValue.number))),
            ("pll", .number(score.pll)),
            ("pseudo_perplexity", .number(score.pseudoPerplexity)),
        ])
    }

    /// The sentence, then its tokens with each one's log-probability under it, wrapped at 80 columns.
    static func table(_ score: SentenceScore, tokenizer model: RobertaModel) -> String {
        var lines = ["\(score.text)", String(format: "pll %.4f over %d tokens, pseudo-perplexity %.3f", score.pll, score.tokens.count, score.pseudoPerplexity)]
        var top = "", bottom = ""
        for (index, (id, logProb)) in zip(score.ids.dropFirst().dropLast(), score.tokenLogProbs).enumerated() {
            // A piece that continues the word before it (no leading space) is marked with "-".
            let decoded = model.tokenizer.decode([id])
            let token = (index > 0 && !decoded.hasPrefix(" ") ? "-" : "") + visible(decoded)
            let value = String(format: "%.2f", logProb)
            let width = max(token.count, value.count)
            if !top.isEmpty, top.count + 2 + width > 80 {
                lines += [trimmed(top), bottom]
                top = ""
                bottom = ""
            }
            if !top.isEmpty { top += "  "; bottom += "  " }
            top += token + String(repeating: " ", count: width - token.count)
            bottom += String(repeating: " ", count: width - value.count) + value
        }
        if !top.isEmpty { lines += [trimmed(top), bottom] }
        return lines.joined(separator: "\n")
    }

    static func trimmed(_ line: String) -> String {
        String(line.reversed().drop(while: { $0 == " " }).reversed())
    }

    /// A token as text on one line: without its leading space, control characters as "·".
    static func visible(_ token: String) -> String {
        let trimmed = token.hasPrefix(" ") ? String(token.dropFirst()) : token
        let shown = String(trimmed.map { $0.isNewline || $0 == "\t" ? "·" : $0 })
        return shown.isEmpty ? "·" : shown
    }
}
