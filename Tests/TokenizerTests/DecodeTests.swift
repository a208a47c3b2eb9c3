import Foundation
import XCTest

import Tokenizer

/// decode(): ByteLevel decoding, U+FFFD replacement, special tokens, clean-up.
final class DecodeTests: XCTestCase {
    private func byteIDs(_ tok: BPETokenizer, _ bytes: [UInt8]) throws -> [Int] {
        try bytes.map { try XCTUnwrap(tok.id(of: ByteLevel.encode([$0])), "byte \($0) has no token") }
    }

    func testInvalidUTF8IsReplacedPerMaximalSubpartLikeTokenizers() throws {
        let tok = try Fixtures.tinyTokenizer()
        let cases: [([UInt8], String)] = [
            ([0xE2, 0x82], "\u{FFFD}"),
            ([0xF0, 0x80], "\u{FFFD}\u{FFFD}"),
            ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"),
            ([0xE0, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
            ([0x80], "\u{FFFD}"),
            ([0xFF], "\u{FFFD}"),
            ([0xE2, 0x82, 0x41], "\u{FFFD}A"),
            ([0xE2, 0x82, 0xAC], "€"),
        ]
        for (bytes, expected) in cases {
            XCTAssertEqual(tok.decode(try byteIDs(tok, bytes)), expected, "bytes \(bytes)")
        }
    }

    func testBytesSplitAcrossTokensJoinBeforeDecoding() throws {
        let tok = try Fixtures.tinyTokenizer()
        let ids = tok.encode("🍕", addSpecialTokens: false).ids
        XCTAssertGreaterThan(ids.count, 1, "the tiny vocabulary splits 🍕 into several tokens")
        XCTAssertEqual(tok.decode(ids), "🍕")
        XCTAssertTrue(ids.map { tok.decode([$0]) }.joined().contains("\u{FFFD}"))
    }

    func testSpecialTokensDecodeToTheirContentUnlessSkipped() throws {
        let tok = try Fixtures.tinyTokenizer()
        let ids = [tok.bosID, tok.maskID, tok.eosID, tok.padID, tok.unkID]
        XCTAssertEqual(tok.decode(ids), "<s><mask></s><pad><unk>")
        XCTAssertEqual(tok.decode(ids, skipSpecialTokens: true), "")
        XCTAssertEqual(tok.decode([tok.maskID]), "<mask>")
        XCTAssertTrue(tok.isSpecial(tok.maskID))
        XCTAssertFalse(tok.isSpecial(tok.id(of: "a") ?? -1))
    }

    func testUnknownIDsAreSkipped() throws {
        let tok = try Fixtures.tinyTokenizer()
        XCTAssertEqual(tok.decode([0, 99_999, 5, 2]), "<s>!</s>")
        XCTAssertEqual(tok.decode([-1, 5]), "!")
    }

    func testRoundTripOfEncodedText() throws {
        let tok = try Fixtures.tinyTokenizer()
        for text in ["Paris is the capital of France.", "  spaces\tand\nnewlines  ", "日本語 🍕 naïve", "it's <mask>!"] {
            let ids = tok.encode(text, addSpecialTokens: false).ids
            // lstrip drops the whitespace before <mask>, so compare with it removed.
            XCTAssertEqual(tok.decode(ids), text.replacingOccurrences(of: " <mask>", with: "<mask>"))
        }
    }

    func testFillMaskTokenStringsKeepTheirLeadingSpace() throws {
        let tok = try Fixtures.realTokenizer()
        let expected = [
            812: " capital", 32357: " birthplace", 3610: " busy", 2721: " beautiful", 1867: " Capital", 372: " great",
        ]
        for (id, text) in expected {
            XCTAssertEqual(tok.decode([id]), text)
            XCTAssertEqual(tok.encode(text, addSpecialTokens: false).ids, [id])
        }
    }

    func testRealDecodeOfSentenceWithMask() throws {
        let tok = try Fixtures.realTokenizer()
        let ids = [0, 32826, 16, 5, 50264, 9, 1470, 4, 2]
        XCTAssertEqual(tok.decode(ids), "<s>Paris is the<mask> of France.</s>")
        XCTAssertEqual(tok.decode(ids, skipSpecialTokens: true), "Paris is the of France.")
        XCTAssertEqual(tok.decode([0, 99_999, 232]), "<s> world")
    }

    func testCleanUpTokenizationMatchesTransformersReplacements() {
        XCTAssertEqual(
            BPETokenizer.cleanUpTokenization(" Hello , world . I 'm here n't ! ? 's 've 're ' x"),
            " Hello, world. I'm heren't!?'s've're'x")
        // Code-point replacement, not canonical-equivalence matching.
        XCTAssertEqual(BPETokenizer.cleanUpTokenization("a .\u{301}"), "a.\u{301}")
    }

    func testCleanUpIsOffByDefaultAndIgnoredForBPEUnlessForced() throws {
        XCTAssertFalse(try Fixtures.tinyTokenizer().cleanUpTokenizationSpaces)

        let requested = try TemporaryDirectory()
        try requested.copyTinyVocabulary()
        try requested.write("tokenizer_config.json", #"{"clean_up_tokenization_spaces": true}"#)
        XCTAssertFalse(try BPETokenizer.load(directory: requested.root).cleanUpTokenizationSpaces)

        let forced = try TemporaryDirectory()
        try forced.copyTinyVocabulary()
        try forced.write(
            "tokenizer_config.json",
            #"{"clean_up_tokenization_spaces": true, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output": true}"#)
        let tok = try BPETokenizer.load(directory: forced.root)
        XCTAssertTrue(tok.cleanUpTokenizationSpaces)
        let ids = tok.encode("Hello , world .", addSpecialTokens: false).ids
        XCTAssertEqual(tok.decode(ids), "Hello, world.")
    }
}
