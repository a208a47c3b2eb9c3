import Foundation
import XCTest

import Tokenizer

/// Loading: which files are read, and typed errors that name the file and the problem.
final class LoadingTests: XCTestCase {
    private func expectError(
        _ body: () throws -> BPETokenizer, file: StaticString = #filePath, line: UInt = #line,
        _ check: (TokenizerError) -> Void
    ) {
        do {
            _ = try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as TokenizerError {
            check(error)
        } catch {
            XCTFail("expected a TokenizerError, got \(error)", file: file, line: line)
        }
    }

    func testMissingVocabFileIsReportedWithItsPath() throws {
        let dir = try TemporaryDirectory()
        try dir.write("merges.txt", "#version: 0.2\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            XCTAssertEqual(error, .missingFile(dir.url("vocab.json")))
            XCTAssertTrue(error.description.contains(dir.url("vocab.json").path), error.description)
        }
    }

    func testMissingMergesFileIsReportedWithItsPath() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4}"#)
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            XCTAssertEqual(error, .missingFile(dir.url("merges.txt")))
        }
    }

    func testMalformedVocabJSONNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>": 0, "#)
        try dir.write("merges.txt", "#version: 0.2\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .badJSON(let file, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("vocab.json"))
            XCTAssertTrue(error.description.contains("vocab.json"), error.description)
        }
    }

    func testVocabWithNonIntegerIDIsBadJSON() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>": "zero"}"#)
        try dir.write("merges.txt", "#version: 0.2\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .badJSON(let file, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("vocab.json"))
            XCTAssertFalse(detail.isEmpty)
        }
    }

    func testAbsurdIDIsRejectedInsteadOfAllocated() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":1000000000000}"#)
        try dir.write("merges.txt", "#version: 0.2\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .badJSON(let file, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("vocab.json"))
            XCTAssertTrue(detail.contains("1000000000000"), detail)
        }
        XCTAssertThrowsError(
            try BPETokenizer(
                vocabURL: Fixtures.tinyModelDir.appendingPathComponent("vocab.json"),
                mergesURL: Fixtures.tinyModelDir.appendingPathComponent("merges.txt"),
                specialTokens: AddedToken.robertaDefaults + [AddedToken("<x>", id: -5)])
        ) { error in
            XCTAssertEqual(error as? TokenizerError, .invalidTokenID(token: "<x>", id: -5))
        }
    }

    func testBadMergesLineReportsFileAndLineNumber() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"ab":7}"#)
        try dir.write("merges.txt", "#version: 0.2\na b\nthis line has three\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            XCTAssertEqual(
                error,
                .badMerges(
                    file: dir.url("merges.txt"), line: 3,
                    detail: "expected two tokens separated by one space, got \"this line has three\""))
            XCTAssertTrue(error.description.contains("merges.txt line 3"), error.description)
        }
    }

    func testMergeOfTokenMissingFromVocabularyReportsTheLine() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"<mask>":4,"a":5,"b":6,"ab":7}"#)
        try dir.write("merges.txt", "#version: 0.2\na b\nb a\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .badMerges(let file, let line, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("merges.txt"))
            XCTAssertEqual(line, 3)
            XCTAssertTrue(detail.contains("ba"), detail)
        }
    }

    func testMissingSpecialTokenIsReported() throws {
        let dir = try TemporaryDirectory()
        try dir.write("vocab.json", #"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"a":4}"#)
        try dir.write("merges.txt", "#version: 0.2\n")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            XCTAssertEqual(error, .missingSpecialToken("<mask>"))
        }
    }

    func testMalformedTokenizerConfigNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        try dir.copyTinyVocabulary()
        try dir.write("tokenizer_config.json", "[1, 2")
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .badJSON(let file, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("tokenizer_config.json"))
        }
    }

    func testUnsupportedTokenizerJSONSettingNamesTheFile() throws {
        let dir = try TemporaryDirectory()
        try dir.copyTinyVocabulary()
        try dir.write("tokenizer.json", #"{"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true}}"#)
        expectError({ try BPETokenizer.load(directory: dir.root) }) { error in
            guard case .unsupported(let file, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(file, dir.url("tokenizer.json"))
        }
    }

    func testBareVocabularyDirectoryGetsRobertaDefaults() throws {
        let dir = try TemporaryDirectory()
        try dir.copyTinyVocabulary()
        let tok = try BPETokenizer.load(directory: dir.root)
        XCTAssertEqual(tok.roles, .roberta)
        let flags = Dictionary(uniqueKeysWithValues: tok.addedTokens.map { ($0.content, $0.lstrip) })
        XCTAssertEqual(flags, ["<s>": false, "<pad>": false, "</s>": false, "<unk>": false, "<mask>": true])
        XCTAssertTrue(tok.addedTokens.allSatisfy { $0.special && !$0.rstrip })
        XCTAssertFalse(tok.cleanUpTokenizationSpaces)
        XCTAssertEqual(tok.encode("is the <mask>").ids, try Fixtures.tinyTokenizer().encode("is the <mask>").ids)
    }

    func testSpecialTokensMapCanTurnOffMaskLstrip() throws {
        let dir = try TemporaryDirectory()
        try dir.copyTinyVocabulary()
        try dir.write(
            "special_tokens_map.json",
            #"{"mask_token": {"content": "<mask>", "lstrip": false, "rstrip": false, "normalized": false, "single_word": false}}"#)
        let tok = try BPETokenizer.load(directory: dir.root)
        XCTAssertEqual(tok.addedTokens.first { $0.content == "<mask>" }?.lstrip, false)
        XCTAssertEqual(tok.encode("the <mask>", addSpecialTokens: false).tokens.suffix(2), ["Ġ", "<mask>"])
    }

    func testMergesWithCRLFLineEndingsLoadLikeUnixOnes() throws {
        let unix = try TemporaryDirectory()
        try unix.copyTinyVocabulary()
        let crlf = try TemporaryDirectory()
        try crlf.copyTinyVocabulary()
        let merges = try String(contentsOf: unix.url("merges.txt"), encoding: .utf8)
        try FileManager.default.removeItem(at: crlf.url("merges.txt"))
        try crlf.write("merges.txt", merges.replacingOccurrences(of: "\n", with: "\r\n"))
        let text = "Paris is the capital of France, naïve café 🍕"
        XCTAssertEqual(
            try BPETokenizer.load(directory: crlf.root).encode(text).ids,
            try BPETokenizer.load(directory: unix.root).encode(text).ids)
    }

    func testExplicitInitializerUsesGivenSpecialTokensAndRoles() throws {
        let tok = try BPETokenizer(
            vocabURL: Fixtures.tinyModelDir.appendingPathComponent("vocab.json"),
            mergesURL: Fixtures.tinyModelDir.appendingPathComponent("merges.txt"))
        XCTAssertEqual([tok.bosID, tok.padID, tok.eosID, tok.unkID, tok.maskID], [0, 1, 2, 3, 4])
        XCTAssertEqual(tok.vocabSize, 1000)
        XCTAssertThrowsError(
            try BPETokenizer(
                vocabURL: Fixtures.tinyModelDir.appendingPathComponent("vocab.json"),
                mergesURL: Fixtures.tinyModelDir.appendingPathComponent("merges.txt"),
                specialTokens: [AddedToken("<not-in-vocab>")])
        ) { error in
            XCTAssertEqual(error as? TokenizerError, .missingSpecialToken("<not-in-vocab>"))
        }
    }
}
