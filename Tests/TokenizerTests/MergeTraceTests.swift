import Foundation
import XCTest

import Tokenizer

/// The per-word BPE merge trace.
final class MergeTraceTests: XCTestCase {
    private let sentences = [
        "Paris is the <mask> of France.",
        "The quick brown fox, who wasn't hungry, jumped over the lazy dog's <mask> in 2024!",
        "aaaaaaa bbbbbb abababab  \t\n naïve café 東京 🍕👍🏽",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "",
    ]

    /// Checks every invariant of a trace against the tokenizer's merge ranks and the encoding.
    private func checkTrace(_ tok: BPETokenizer, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        let traced = tok.encode(text, trace: true)
        let plain = tok.encode(text)
        XCTAssertEqual(plain.words, [], "no trace unless requested", file: file, line: line)
        XCTAssertEqual(traced.ids, plain.ids, "tracing must not change the ids", file: file, line: line)
        XCTAssertEqual(traced.offsets, plain.offsets, file: file, line: line)

        var tokensFromWords: [TraceToken] = []
        var expectedStart = 0
        for word in traced.words {
            // Words tile the text (added tokens include the whitespace they absorbed).
            XCTAssertEqual(word.range.lowerBound, expectedStart, "words must be contiguous", file: file, line: line)
            expectedStart = word.range.upperBound
            XCTAssertEqual(
                String(String.UnicodeScalarView(Array(text.unicodeScalars)[word.range])), word.text,
                file: file, line: line)
            tokensFromWords += word.tokens
            guard word.kind == .bpe else {
                XCTAssertEqual(word.steps, [], "added tokens are not merged", file: file, line: line)
                continue
            }
            XCTAssertEqual(ByteLevel.encode(Array(word.text.utf8)), word.byteLevel, file: file, line: line)
            XCTAssertEqual(word.initialSymbols.joined(), word.byteLevel, file: file, line: line)
            var symbols = word.initialSymbols
            for step in word.steps {
                XCTAssertEqual(step.before, symbols, "each step starts where the previous ended", file: file, line: line)
                guard step.position >= 0, step.position + 1 < symbols.count else {
                    XCTFail("step position \(step.position) outside \(symbols)", file: file, line: line)
                    return
                }
                XCTAssertEqual(symbols[step.position], step.left, file: file, line: line)
                XCTAssertEqual(symbols[step.position + 1], step.right, file: file, line: line)
                XCTAssertEqual(step.merged, step.left + step.right, file: file, line: line)
                XCTAssertEqual(tok.mergeRank(step.left, step.right), step.rank, file: file, line: line)
                // The merged pair is the lowest-rank pair present, leftmost among equals.
                for i in 0..<(symbols.count - 1) {
                    guard let rank = tok.mergeRank(symbols[i], symbols[i + 1]) else { continue }
                    XCTAssertGreaterThanOrEqual(
                        rank, step.rank, "pair \(symbols[i]) \(symbols[i + 1]) outranks the merged one", file: file,
                        line: line)
                    if rank == step.rank {
                        XCTAssertGreaterThanOrEqual(i, step.position, "leftmost first on ties", file: file, line: line)
                    }
                }
                symbols.replaceSubrange(step.position...(step.position + 1), with: [step.merged])
                XCTAssertEqual(step.after, symbols, file: file, line: line)
            }
            // No mergeable pair is left at the end.
            for i in 0..<max(0, symbols.count - 1) {
                XCTAssertNil(tok.mergeRank(symbols[i], symbols[i + 1]), "unmerged pair left", file: file, line: line)
            }
            XCTAssertEqual(word.tokens.map(\.token), symbols, "applying the steps yields the tokens", file: file, line: line)
            XCTAssertEqual(word.tokens.map(\.id), symbols.map { tok.id(of: $0) ?? -1 }, file: file, line: line)
        }
        XCTAssertEqual(expectedStart, text.unicodeScalars.count, "words cover the whole text", file: file, line: line)
        let inner = 1..<(traced.ids.count - 1)
        XCTAssertEqual(tokensFromWords.map(\.id), Array(traced.ids[inner]), file: file, line: line)
        XCTAssertEqual(tokensFromWords.map(\.offsets), Array(traced.offsets[inner]), file: file, line: line)
    }

    func testTinyMergeTraceReplaysToTheFinalTokens() throws {
        let tok = try Fixtures.tinyTokenizer()
        for text in sentences { checkTrace(tok, text) }
        let reference = try ReferenceFile.load(Fixtures.tinyReference)
        for c in reference.cases + reference.random_cases { checkTrace(tok, c.text) }
    }

    func testRealMergeTraceReplaysToTheFinalTokens() throws {
        let tok = try Fixtures.realTokenizer()
        for text in sentences { checkTrace(tok, text) }
        let reference = try ReferenceFile.load(Fixtures.realReference)
        for c in reference.cases + reference.random_cases { checkTrace(tok, c.text) }
    }

    func testCapitalIsBuiltByMergesFromItsBytes() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("The capital", addSpecialTokens: false, trace: true)
        XCTAssertEqual(e.words.count, 2)
        let word = e.words[1]
        XCTAssertEqual(word.kind, .bpe)
        XCTAssertEqual(word.text, " capital")
        XCTAssertEqual(word.range, 3..<11)
        XCTAssertEqual(word.byteLevel, "Ġcapital")
        XCTAssertEqual(word.initialSymbols, ["Ġ", "c", "a", "p", "i", "t", "a", "l"])
        XCTAssertEqual(word.steps.last?.after, ["Ġcapital"])
        XCTAssertEqual(word.tokens, [TraceToken(id: 812, token: "Ġcapital", offsets: 4..<11)])
        // Eight byte symbols become one token: exactly seven merges.
        XCTAssertEqual(word.steps.count, 7)
    }

    func testMaskWordRecordsTheAbsorbedWhitespace() throws {
        let tok = try Fixtures.tinyTokenizer()
        let e = tok.encode("is the <mask>.", addSpecialTokens: false, trace: true)
        let mask = try XCTUnwrap(e.words.first { $0.kind == .addedToken })
        XCTAssertEqual(mask.text, " <mask>")
        XCTAssertEqual(mask.range, 6..<13)
        XCTAssertEqual(mask.steps, [])
        XCTAssertEqual(mask.tokens, [TraceToken(id: tok.maskID, token: "<mask>", offsets: 7..<13)])
    }

    func testMultibyteCharacterStartsAsOneSymbolPerByte() throws {
        let tok = try Fixtures.tinyTokenizer()
        let word = try XCTUnwrap(tok.encode("é", addSpecialTokens: false, trace: true).words.first)
        XCTAssertEqual(word.byteLevel, "Ã©")
        XCTAssertEqual(word.initialSymbols, ["Ã", "©"])
        XCTAssertTrue(word.tokens.allSatisfy { $0.offsets == 0..<1 })
    }
}
