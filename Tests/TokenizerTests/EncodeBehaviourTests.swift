import Foundation
import XCTest

import Tokenizer

/// Specific encode behaviours, each checked against transformers 5.23 / tokenizers 0.23.3 when written.
final class EncodeBehaviourTests: XCTestCase {
    private func words(_ tokenizer: BPETokenizer, _ text: String) -> [String] {
        tokenizer.encode(text, addSpecialTokens: false, trace: true).words.map(\.text)
    }

    private func offsets(_ e: Encoding) -> [[Int]] {
        e.offsets.map { [$0.lowerBound, $0.upperBound] }
    }

    // MARK: real vocabulary

    func testMaskAbsorbsPrecedingSpace() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("Paris is the <mask> of France.")
        XCTAssertEqual(e.ids, [0, 32826, 16, 5, 50264, 9, 1470, 4, 2])
        XCTAssertEqual(e.tokens, ["<s>", "Paris", "Ġis", "Ġthe", "<mask>", "Ġof", "ĠFrance", ".", "</s>"])
        // The absorbed space is trimmed from the offsets: <mask> covers exactly "<mask>".
        XCTAssertEqual(offsets(e), [[0, 0], [0, 5], [6, 8], [9, 12], [13, 19], [20, 22], [23, 29], [29, 30], [0, 0]])
        XCTAssertEqual(e.specialTokensMask, [1, 0, 0, 0, 0, 0, 0, 0, 1])
    }

    func testMaskWithoutPrecedingSpaceGivesTheSameIDs() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("Paris is the<mask> of France.")
        XCTAssertEqual(e.ids, [0, 32826, 16, 5, 50264, 9, 1470, 4, 2])
        XCTAssertEqual(e.offsets[4], 12..<18)
    }

    func testMaskLstripAbsorbsUnicodeWhiteSpaceButNotZeroWidthOrInformationSeparators() throws {
        let tok = try Fixtures.realTokenizer()
        for ws in ["\u{00A0}", "\u{3000}", "\u{2009}", "\u{0085}", "\u{0B}\u{0C}", "\n\n", "\t", "\u{2028}"] {
            let e = tok.encode("a" + ws + "<mask>")
            XCTAssertEqual(e.ids, [0, 102, 50264, 2], "whitespace \(ReferenceChecks.describe(ws))")
            let start = 1 + ws.unicodeScalars.count
            XCTAssertEqual(e.offsets[2], start..<(start + 6))
        }
        XCTAssertEqual(tok.encode("a\u{200B}<mask>").ids, [0, 102, 13635, 50264, 2])
        XCTAssertEqual(tok.encode("a\u{1C}<mask>").ids, [0, 102, 50136, 50264, 2])
    }

    func testConsecutiveMasksEachKeepTheirOwnWhitespace() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("  <mask>  <mask>")
        XCTAssertEqual(e.ids, [0, 50264, 50264, 2])
        XCTAssertEqual(offsets(e), [[0, 0], [2, 8], [10, 16], [0, 0]])
        XCTAssertEqual(tok.encode("<mask><mask>").ids, [0, 50264, 50264, 2])
    }

    func testLiteralSpecialTokensInTextAreMatchedBeforePreTokenization() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("x<s> y</s>")
        XCTAssertEqual(e.ids, [0, 1178, 0, 1423, 2, 2])
        XCTAssertEqual(offsets(e), [[0, 0], [0, 1], [1, 4], [5, 6], [6, 10], [0, 0]])
        // Only the <s> and </s> the post-processor adds are marked special.
        XCTAssertEqual(tok.encode("<s>x").specialTokensMask, [1, 0, 0, 1])
    }

    func testContractionsAreCaseSensitive() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("don't DON'T it's IT'S", addSpecialTokens: false)
        XCTAssertEqual(e.tokens, ["don", "'t", "ĠDON", "'", "T", "Ġit", "'s", "ĠIT", "'", "S"])
        XCTAssertEqual(e.ids, [7254, 75, 24980, 108, 565, 24, 18, 3779, 108, 104])
    }

    func testOffsetsAreInUnicodeScalarsAndSharedByBytesOfOneCharacter() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("é 日本 🍕")
        XCTAssertEqual(e.tokens, ["<s>", "Ã©", "Ġæ", "Ĺ", "¥", "æľ", "¬", "ĠðŁ", "į", "ķ", "</s>"])
        XCTAssertEqual(
            offsets(e), [[0, 0], [0, 1], [2, 3], [2, 3], [2, 3], [3, 4], [3, 4], [5, 6], [5, 6], [5, 6], [0, 0]])
    }

    func testWithoutSpecialTokensOffsetsAreStillTrimmed() throws {
        let tok = try Fixtures.realTokenizer()
        let e = tok.encode("Hello world  ", addSpecialTokens: false)
        XCTAssertEqual(e.ids, [31414, 232, 1437, 1437])
        XCTAssertEqual(offsets(e), [[0, 5], [6, 11], [12, 12], [13, 13]])
        XCTAssertEqual(e.specialTokensMask, [0, 0, 0, 0])
    }

    func testRealVocabularyIDsAndSize() throws {
        let tok = try Fixtures.realTokenizer()
        XCTAssertEqual(tok.bosID, 0)
        XCTAssertEqual(tok.padID, 1)
        XCTAssertEqual(tok.eosID, 2)
        XCTAssertEqual(tok.unkID, 3)
        XCTAssertEqual(tok.maskID, 50264)
        XCTAssertEqual(tok.clsID, 0)
        XCTAssertEqual(tok.sepID, 2)
        XCTAssertEqual(tok.vocabSize, 50265)
        XCTAssertEqual(tok.tokenCount, 50262)
        XCTAssertEqual(tok.id(of: "Ġcapital"), 812)
        XCTAssertEqual(tok.token(of: 812), "Ġcapital")
        XCTAssertNil(tok.token(of: 50261), "vocab.json has no id 50261")
        XCTAssertNil(tok.token(of: -1))
        XCTAssertNil(tok.id(of: "no such token"))
        XCTAssertEqual(tok.addedTokens.first { $0.content == "<mask>" }?.lstrip, true)
    }

    // MARK: tiny vocabulary (pre-tokenizer behaviour does not depend on the vocabulary)

    func testEmptyTextGivesOnlyBosAndEos() throws {
        let tok = try Fixtures.tinyTokenizer()
        let e = tok.encode("")
        XCTAssertEqual(e.ids, [tok.bosID, tok.eosID])
        XCTAssertEqual(e.offsets, [0..<0, 0..<0])
        XCTAssertEqual(e.specialTokensMask, [1, 1])
        XCTAssertEqual(tok.encode("", addSpecialTokens: false), Encoding(ids: [], tokens: [], offsets: [], specialTokensMask: []))
    }

    func testWhitespaceRunBeforeWordLeavesItsLastSpaceToTheWord() throws {
        let tok = try Fixtures.tinyTokenizer()
        XCTAssertEqual(words(tok, "a  b"), ["a", " ", " b"])
        XCTAssertEqual(words(tok, "a   "), ["a", "   "])
        XCTAssertEqual(words(tok, "a\t\tb"), ["a", "\t", "\t", "b"])
        XCTAssertEqual(words(tok, "a \n b"), ["a", " \n", " b"])
        XCTAssertEqual(words(tok, "  a"), [" ", " a"])
    }

    func testPreTokenizerWhitespaceIsUnicodeWhiteSpace() throws {
        let tok = try Fixtures.tinyTokenizer()
        // White_Space characters: a run of them before "b" splits (they are not " ", so "b" stands alone).
        for ws in ["\u{00A0}", "\u{2009}", "\u{3000}", "\u{0085}", "\u{0B}", "\u{0C}", "\u{2028}", "\u{1680}", "\u{202F}"] {
            XCTAssertEqual(words(tok, "a" + ws + ws + "b" + ws), ["a", ws, ws, "b", ws], ReferenceChecks.describe(ws))
        }
        // Not White_Space: they are [^\s\p{L}\p{N}] and run together.
        for other in ["\u{200B}", "\u{FEFF}", "\u{180E}", "\u{1C}"] {
            XCTAssertEqual(words(tok, "a" + other + other + "b" + other), ["a", other + other, "b", other], ReferenceChecks.describe(other))
        }
    }

    func testOptionalSpacePrefixIsOnlyU0020() throws {
        let tok = try Fixtures.tinyTokenizer()
        XCTAssertEqual(words(tok, "a b 1 !"), ["a", " b", " 1", " !"])
        XCTAssertEqual(words(tok, "a\u{00A0}b"), ["a", "\u{00A0}", "b"])
    }

    func testLettersNumbersAndOtherSymbolsFormSeparateRuns() throws {
        let tok = try Fixtures.tinyTokenizer()
        XCTAssertEqual(words(tok, "abc123def"), ["abc", "123", "def"])
        XCTAssertEqual(words(tok, "x²½Ⅻ٣"), ["x", "²½Ⅻ٣"])
        XCTAssertEqual(words(tok, "?!'s"), ["?!'", "s"])
        XCTAssertEqual(words(tok, "''s"), ["''", "s"])
        XCTAssertEqual(words(tok, "y'all'd've"), ["y", "'", "all", "'d", "'ve"])
        XCTAssertEqual(words(tok, "it's they'll we're I'M"), ["it", "'s", " they", "'ll", " we", "'re", " I", "'", "M"])
        XCTAssertEqual(words(tok, "cafe\u{301}"), ["cafe", "\u{301}"])
    }

    func testCharactersNewerThanUnicode16AreNotLetters() throws {
        // tokenizers 0.23.3's Oniguruma tables are Unicode 16.0; U+0C5C (Unicode 17.0) is unassigned there.
        let tok = try Fixtures.tinyTokenizer()
        XCTAssertEqual(words(tok, "a\u{0C5C}"), ["a", "\u{0C5C}"])
        XCTAssertEqual(words(tok, " \u{0C5C}!"), [" \u{0C5C}!"])
    }

    func testEncodingIsDeterministicAcrossConcurrentCallers() throws {
        let tok = try Fixtures.tinyTokenizer()
        let texts = ["Paris is the <mask> of France.", "日本語 text", "it's  fine\n", "🍕🍕 <s>"]
        let expected = texts.map { tok.encode($0, trace: true) }
        let results = ConcurrentResults(count: 64)
        DispatchQueue.concurrentPerform(iterations: 64) { i in
            results.set(i, tok.encode(texts[i % texts.count], trace: true))
        }
        for i in 0..<64 {
            XCTAssertEqual(results.get(i), expected[i % texts.count])
        }
    }

    // MARK: added tokens and unknown characters (small hand-made vocabularies)

    func testLongestAddedTokenWinsAtTheLeftmostPosition() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"ab":7,"abab":8,"ba":9}"#)
        try dir.write("merges.txt", "#version: 0.2\na b\n")
        let tok = try BPETokenizer(
            vocabURL: dir.url("vocab.json"), mergesURL: dir.url("merges.txt"),
            specialTokens: AddedToken.robertaDefaults + [AddedToken("ab"), AddedToken("abab"), AddedToken("ba")])
        let e = tok.encode("aababab", addSpecialTokens: false)
        XCTAssertEqual(e.tokens, ["a", "abab", "ab"])
        XCTAssertEqual(e.offsets, [0..<1, 1..<5, 5..<7])
        XCTAssertEqual(tok.encode("bab", addSpecialTokens: false).tokens, ["ba", "b"])
    }

    func testCharactersMissingFromTheVocabularyAreDroppedLikeTokenizers() throws {
        // With no unk token in the BPE model, tokenizers drops unknown characters and keeps counting
        // offsets from the symbols it kept (so later offsets shift left); reproduced here.
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"ab":7,"Ġ":8,"Ġa":9}"#)
        try dir.write("merges.txt", "#version: 0.2\na b\nĠ a\n")
        let tok = try BPETokenizer.load(directory: dir.root)
        XCTAssertEqual(tok.encode("axb").ids, [0, 7, 2])
        XCTAssertEqual(tok.encode("axb").offsets[1], 0..<2)
        XCTAssertEqual(tok.encode("aéb").offsets[1], 0..<2)
        XCTAssertEqual(tok.encode("xxab").offsets[1], 0..<2)
        XCTAssertEqual(tok.encode("x a").offsets[1], 2..<3)
        XCTAssertEqual(tok.encode("xé").ids, [0, 2])
        let masked = tok.encode("ab <mask>")
        XCTAssertEqual(masked.ids, [0, 7, 4, 2])
        XCTAssertEqual(masked.offsets, [0..<0, 0..<2, 3..<9, 0..<0])
    }

    func testUnknownCharactersBecomeUnkWhenTheModelHasOne() throws {
        let vocab = #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"ab":7,"Ġ":8,"Ġa":9}"#
        for fuse in [false, true] {
            let dir = try TemporaryDirectory()
            try dir.write("vocab.json", vocab)
            try dir.write("merges.txt", "#version: 0.2\na b\nĠ a\n")
            try dir.write("tokenizer.json", #"{"model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": \#(fuse)}}"#)
            let tok = try BPETokenizer.load(directory: dir.root)
            XCTAssertEqual(tok.encode("axb").ids, [0, 5, 3, 6, 2])
            XCTAssertEqual(tok.encode("axb").offsets, [0..<0, 0..<1, 1..<2, 2..<3, 0..<0])
            if fuse {
                XCTAssertEqual(tok.encode("aéb").ids, [0, 5, 3, 6, 2])
                XCTAssertEqual(tok.encode("xxab").ids, [0, 3, 7, 2])
                XCTAssertEqual(tok.encode("xxab").offsets, [0..<0, 0..<2, 2..<4, 0..<0])
            } else {
                XCTAssertEqual(tok.encode("aéb").ids, [0, 5, 3, 3, 6, 2])
                XCTAssertEqual(tok.encode("aéb").offsets, [0..<0, 0..<1, 1..<2, 1..<2, 2..<3, 0..<0])
                XCTAssertEqual(tok.encode("xxab").offsets, [0..<0, 0..<1, 1..<2, 2..<4, 0..<0])
                XCTAssertEqual(tok.encode("é a").offsets, [0..<0, 0..<1, 0..<1, 2..<3, 0..<0])
            }
        }
    }
}

/// Thread-safe slots for results written by concurrent workers.
final class ConcurrentResults: @unchecked Sendable {
    private var values: [Encoding?]
    private let lock = NSLock()

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Encoding) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }

    func get(_ index: Int) -> Encoding? {
        lock.lock()
        defer { lock.unlock() }
        return values[index]
    }
}

/// A scratch directory removed when the value is deinitialised.
final class TemporaryDirectory {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("tokenizer-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func url(_ name: String) -> URL { root.appendingPathComponent(name) }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: url(name))
    }

    /// Copies the tiny fixture's vocab.json and merges.txt here.
    func copyTinyVocabulary() throws {
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.copyItem(at: Fixtures.tinyModelDir.appendingPathComponent(name), to: url(name))
        }
    }
}
