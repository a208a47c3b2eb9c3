import Foundation
import XCTest

@testable import Tokenizer

/// The direct vocab.json reader gives what JSONDecoder gives, and declines anything else.
final class FastVocabJSONTests: XCTestCase {
    func decoded(_ text: String) -> [String: Int]? { try? JSONDecoder().decode([String: Int].self, from: Data(text.utf8)) }

    func testEscapesAndUnicodeDecodeAsJSONDecoderDoes() {
        let text = #"{"a": 1, "\"q\"": 2, "back\\slash": 3, "\u00e9t\u00E9": 4, "\ud83d\ude00": 5, "tab\tnl\n": 6, "\/": 7, "Ġthe": 8}"#
        let fast = FastVocabJSON.parse(Array(text.utf8))
        XCTAssertEqual(fast, decoded(text))
        XCTAssertEqual(fast?["😀"], 5)
        XCTAssertEqual(fast?["été"], 4)
    }

    func testWhitespaceBOMAndEmptyObject() {
        XCTAssertEqual(FastVocabJSON.parse(Array("\u{FEFF} {\n \"x\" :\t0 \r\n}\n".utf8)), ["x": 0])
        XCTAssertEqual(FastVocabJSON.parse(Array(" {} ".utf8)), [:])
    }

    func testAnythingElseIsLeftToJSONDecoder() {
        for text in [#"{"a": -1}"#, #"{"a": 1.5}"#, #"{"a": "1"}"#, #"{"a": 1,}"#, #"{"a": 1} x"#, #"["a"]"#,
                     #"{"a": 1"#, #"{"\ud800": 1}"#, #"{"\x": 1}"#, "{\"a\u{01}\": 1}", #"{"a": 12345678901234567}"#] {
            XCTAssertNil(FastVocabJSON.parse(Array(text.utf8)), text)
        }
    }

    func testFixtureAndRealVocabularyMatchJSONDecoder() throws {
        let tiny = try Data(contentsOf: Fixtures.tinyModelDir.appendingPathComponent("vocab.json"))
        XCTAssertEqual(FastVocabJSON.parse([UInt8](tiny)), try JSONDecoder().decode([String: Int].self, from: tiny))
        _ = try Fixtures.realTokenizer()  // skips, saying so, without ../shared
        let real = try Data(contentsOf: Fixtures.realTokenizerDir.appendingPathComponent("vocab.json"))
        let fast = try XCTUnwrap(FastVocabJSON.parse([UInt8](real)))
        XCTAssertEqual(fast.count, 50_262)
        XCTAssertEqual(fast, try JSONDecoder().decode([String: Int].self, from: real))
    }
}
