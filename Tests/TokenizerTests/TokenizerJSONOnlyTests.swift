import Foundation
import XCTest

import Tokenizer

/// transformers 5 `save_pretrained` writes tokenizer.json and tokenizer_config.json only (no vocab.json or
/// merges.txt): the vocabulary and merges then come from tokenizer.json's BPE model, and its added-token
/// flags decide whether `<mask>` absorbs the space before it.
final class TokenizerJSONOnlyTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-tokjson-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for name in ["tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(at: Fixtures.tinyModelDir.appendingPathComponent(name),
                                             to: directory.appendingPathComponent(name))
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    func editTokenizerJSON(_ edit: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("tokenizer.json")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
    }

    func testVocabularyAndMergesComeFromTokenizerJSONWhenTheFilesAreAbsent() throws {
        let fromJSON = try BPETokenizer.load(directory: directory)
        let fromFiles = try Fixtures.tinyTokenizer()
        for text in ["Paris is the <mask> of France.", "Today is a <mask> day!", "Café au lait, naïve 🙂 42 don't"] {
            XCTAssertEqual(fromJSON.encode(text), fromFiles.encode(text), text)
        }
        XCTAssertEqual(fromJSON.vocabSize, fromFiles.vocabSize)
    }

    func testMergesWrittenAsSpaceSeparatedStringsAlsoLoad() throws {
        try editTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            let pairs = model["merges"] as! [[String]]
            model["merges"] = pairs.map { $0.joined(separator: " ") }
            json["model"] = model
        }
        let fromJSON = try BPETokenizer.load(directory: directory)
        XCTAssertEqual(fromJSON.encode("Paris is the capital of France."), try Fixtures.tinyTokenizer().encode("Paris is the capital of France."))
    }

    func testMaskWithoutLstripKeepsTheSpaceAsItsOwnToken() throws {
        // What transformers 5.23 gives for a tokenizer.json whose <mask> has lstrip=false (its own default when
        // built from vocab.json + merges.txt): "Paris is the <mask>" -> ... Ġthe, Ġ, <mask>.
        try editTokenizerJSON { json in
            json["added_tokens"] = (json["added_tokens"] as! [[String: Any]]).map { token in
                var token = token
                if token["content"] as? String == "<mask>" { token["lstrip"] = false }
                return token
            }
        }
        let tokenizer = try BPETokenizer.load(directory: directory)
        let encoding = tokenizer.encode("Paris is the <mask> of France.")
        let mask = try XCTUnwrap(encoding.ids.firstIndex(of: tokenizer.maskID))
        XCTAssertEqual(encoding.tokens[mask - 1], "Ġ")
        XCTAssertEqual(encoding.tokens[mask - 2], "Ġthe")
    }

    func testBrokenEmbeddedMergesNameTheFile() throws {
        try editTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            model["merges"] = [["zzz-not-a-token", "q"]]
            json["model"] = model
        }
        XCTAssertThrowsError(try BPETokenizer.load(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
        }
    }

    func testNeitherVocabFileNorEmbeddedVocabIsAMissingFileError() throws {
        try editTokenizerJSON { json in
            var model = json["model"] as! [String: Any]
            model.removeValue(forKey: "vocab")
            json["model"] = model
        }
        XCTAssertThrowsError(try BPETokenizer.load(directory: directory)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(directory.appendingPathComponent("vocab.json")))
        }
    }

    func testRealVocabularyWithMaskWithoutLstripMatchesTransformers() throws {
        // Reference: transformers 5.23 RobertaTokenizer(vocab=..., merges=...) on ../shared/roberta-tokenizer,
        // whose <mask> then has lstrip=False.
        _ = try Fixtures.realTokenizer()
        let dir = directory.appendingPathComponent("real")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["vocab.json", "merges.txt"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                       withDestinationURL: Fixtures.realTokenizerDir.appendingPathComponent(name))
        }
        let config: [String: Any] = ["added_tokens_decoder": ["50264": ["content": "<mask>", "lstrip": false, "rstrip": false,
                                                                        "normalized": false, "single_word": false, "special": true]]]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        let tokenizer = try BPETokenizer.load(directory: dir)
        XCTAssertEqual(tokenizer.encode("Paris is the <mask> of France.").ids, [0, 32826, 16, 5, 1437, 50264, 9, 1470, 4, 2])
    }
}
