import Foundation
import XCTest

import Tokenizer

/// Locations of the committed fixtures and of the shared real RoBERTa files.
enum Fixtures {
    /// The repository root: three levels above this file (Tests/TokenizerTests/FixtureSupport.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The tiny fixture model directory (committed).
    static let tinyModelDir = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny")
    /// Reference tokenization for the tiny vocabulary (committed).
    static let tinyReference = repoRoot.appendingPathComponent("Tests/Fixtures/reference/tokenize-tiny.json")
    /// Reference tokenization for the real roberta-base vocabulary (committed; needs ../shared to run).
    static let realReference = repoRoot.appendingPathComponent("Tests/Fixtures/reference/tokenize-real.json")
    /// The real vocab.json / merges.txt, outside the repository.
    static let realTokenizerDir = repoRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/roberta-tokenizer")

    /// The tiny tokenizer; a missing or broken fixture is a test failure, never a skip.
    static let tiny: Result<BPETokenizer, any Error> = Result { try BPETokenizer.load(directory: tinyModelDir) }
    /// The real tokenizer, or nil when ../shared/roberta-tokenizer is absent.
    static let real: Result<BPETokenizer, any Error>? = {
        guard FileManager.default.fileExists(atPath: realTokenizerDir.appendingPathComponent("vocab.json").path)
        else { return nil }
        return Result { try BPETokenizer.load(directory: realTokenizerDir) }
    }()

    static func tinyTokenizer(file: StaticString = #filePath, line: UInt = #line) throws -> BPETokenizer {
        do {
            return try tiny.get()
        } catch {
            XCTFail("cannot load the tiny fixture tokenizer at \(tinyModelDir.path): \(error)", file: file, line: line)
            throw error
        }
    }

    static func realTokenizer() throws -> BPETokenizer {
        guard let real else {
            throw XCTSkip(
                "real RoBERTa vocabulary not available: \(realTokenizerDir.path) is absent (it lives in ../shared, outside the repository)")
        }
        return try real.get()
    }
}

/// One tokenization case of tokenize-*.json.
struct ReferenceCase: Decodable {
    var text: String
    var ids: [Int]
    var tokens: [String]
    var offsets: [[Int]]
    var decoded: String
    var decoded_skip_special: String
    var token_strs: [String]
}

/// One single-id decode of tokenize-*.json.
struct ReferenceDecode: Decodable {
    var id: Int
    var token: String?
    var decoded: String
}

/// One multi-id decode of tokenize-*.json.
struct ReferenceDecodeSequence: Decodable {
    var ids: [Int]
    var decoded: String
    var decoded_skip_special: String
}

/// The whole tokenize-*.json file.
struct ReferenceFile: Decodable {
    struct MaskToken: Decodable {
        var content: String
        var id: Int
        var lstrip: Bool
        var rstrip: Bool
    }

    struct TokenizerInfo: Decodable {
        /// len(tokenizer); older fixture files called it vocab_size.
        var len: Int?
        var vocab_size: Int?
        /// Largest id in use.
        var max_id: Int?
        var clean_up_tokenization_spaces: Bool
        var mask_token: MaskToken
        var special_ids: [String: Int]
    }

    struct Versions: Decodable {
        var transformers: String
        var tokenizers: String
    }

    var versions: Versions
    var tokenizer: TokenizerInfo
    var cases: [ReferenceCase]
    var random_cases: [ReferenceCase]
    var decode: [ReferenceDecode]
    var decode_sequences: [ReferenceDecodeSequence]

    /// Loads a reference file; failing (not skipping) when it is missing or malformed.
    static func load(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> ReferenceFile {
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("reference fixture missing: \(url.path) (run Scripts/make_fixtures.py)", file: file, line: line)
            throw TokenizerError.missingFile(url)
        }
        do {
            return try JSONDecoder().decode(ReferenceFile.self, from: Data(contentsOf: url))
        } catch {
            XCTFail("reference fixture \(url.path) unreadable: \(error)", file: file, line: line)
            throw error
        }
    }
}

/// Shared comparison of a tokenizer against a reference file.
enum ReferenceChecks {
    static func describe(_ text: String) -> String {
        text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }
            .joined()
    }

    static func checkEncodings(_ tokenizer: BPETokenizer, _ reference: ReferenceFile, file: StaticString = #filePath, line: UInt = #line) {
        let all = reference.cases + reference.random_cases
        XCTAssertGreaterThan(all.count, 100, "reference file has too few cases", file: file, line: line)
        var failures = 0
        for c in all {
            let e = tokenizer.encode(c.text)
            let offsets = e.offsets.map { [$0.lowerBound, $0.upperBound] }
            if e.ids != c.ids || e.tokens != c.tokens || offsets != c.offsets {
                failures += 1
                XCTFail(
                    """
                    encode("\(describe(c.text))"):
                      ids      \(e.ids) expected \(c.ids)
                      tokens   \(e.tokens) expected \(c.tokens)
                      offsets  \(offsets) expected \(c.offsets)
                    """, file: file, line: line)
            }
            if failures > 20 { return }
        }
    }

    static func checkDecodes(_ tokenizer: BPETokenizer, _ reference: ReferenceFile, file: StaticString = #filePath, line: UInt = #line) {
        for c in reference.cases + reference.random_cases {
            let text = describe(c.text)
            XCTAssertEqual(tokenizer.decode(c.ids), c.decoded, "decode of \(text)", file: file, line: line)
            XCTAssertEqual(
                tokenizer.decode(c.ids, skipSpecialTokens: true), c.decoded_skip_special,
                "decode(skipSpecialTokens) of \(text)", file: file, line: line)
            XCTAssertEqual(c.ids.map { tokenizer.decode([$0]) }, c.token_strs, "token_strs of \(text)", file: file, line: line)
        }
        for d in reference.decode {
            XCTAssertEqual(tokenizer.token(of: d.id), d.token, "token(of: \(d.id))", file: file, line: line)
            XCTAssertEqual(tokenizer.decode([d.id]), d.decoded, "decode([\(d.id)])", file: file, line: line)
        }
        for s in reference.decode_sequences {
            XCTAssertEqual(tokenizer.decode(s.ids), s.decoded, "decode(\(s.ids))", file: file, line: line)
            XCTAssertEqual(
                tokenizer.decode(s.ids, skipSpecialTokens: true), s.decoded_skip_special,
                "decode(\(s.ids), skipSpecialTokens: true)", file: file, line: line)
        }
    }

    static func checkHeader(_ tokenizer: BPETokenizer, _ reference: ReferenceFile, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(tokenizer.cleanUpTokenizationSpaces, reference.tokenizer.clean_up_tokenization_spaces, file: file, line: line)
        if let count = reference.tokenizer.len ?? reference.tokenizer.vocab_size {
            XCTAssertEqual(tokenizer.tokenCount, count, "len(tokenizer)", file: file, line: line)
        }
        if let maxID = reference.tokenizer.max_id {
            XCTAssertEqual(tokenizer.vocabSize, maxID + 1, "largest id + 1", file: file, line: line)
        }
        let mask = reference.tokenizer.mask_token
        XCTAssertEqual(tokenizer.maskID, mask.id, file: file, line: line)
        let ours = tokenizer.addedTokens.first { $0.content == mask.content }
        XCTAssertEqual(ours?.lstrip, mask.lstrip, "mask lstrip", file: file, line: line)
        XCTAssertEqual(ours?.rstrip, mask.rstrip, "mask rstrip", file: file, line: line)
        for (token, id) in reference.tokenizer.special_ids {
            XCTAssertEqual(tokenizer.id(of: token), id, "id(of: \(token))", file: file, line: line)
        }
    }
}
