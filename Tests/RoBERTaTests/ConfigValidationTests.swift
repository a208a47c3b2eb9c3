import Foundation
import XCTest
@testable import RoBERTa

/// config.json: a value of the wrong JSON type, a setting the engine does not implement, or a number no RoBERTa
/// has is an error naming the key, before any arithmetic is done with it.
final class ConfigValidationTests: XCTestCase {
    /// The tiny fixture's config.json with `edit` applied, loaded.
    func load(_ edit: (inout [String: Any]) -> Void) throws -> RobertaConfig {
        let source = Fixtures.model("tiny").appendingPathComponent("config.json")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source)) as? [String: Any])
        edit(&config)
        let url = try temporaryDirectory().appendingPathComponent("config.json")
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        return try RobertaConfig.load(from: url)
    }

    func expectError(_ edit: (inout [String: Any]) -> Void, file: StaticString = #filePath, line: UInt = #line,
                     _ check: (ModelLoadError) -> Void) {
        XCTAssertThrowsError(try load(edit), file: file, line: line) { error in
            guard let error = error as? ModelLoadError else { return XCTFail("got \(error)", file: file, line: line) }
            check(error)
        }
    }

    func testTheFixtureConfigLoads() throws {
        let config = try load { _ in }
        XCTAssertEqual(config.hiddenSize, 32)
        XCTAssertTrue(config.tieWordEmbeddings)
    }

    func testWrongJSONTypeNamesTheKeyAndTheTypeFound() {
        let cases: [(key: String, value: Any, found: String)] = [
            ("tie_word_embeddings", "yes", "the string \"yes\""),
            ("tie_word_embeddings", 1, "the number 1"),
            ("hidden_act", 3, "the number 3"),
            ("model_type", ["roberta"], "a list"),
            ("layer_norm_eps", "1e-5", "the string \"1e-5\""),
            ("hidden_size", "32", "the string \"32\""),
            ("hidden_size", 32.5, "the number 32.5"),
            ("vocab_size", true, "true"),
            ("pad_token_id", NSNull(), "null"),
            ("is_decoder", "false", "the string \"false\""),
            ("add_cross_attention", 0, "the number 0"),
            ("position_embedding_type", ["type": "absolute"], "an object"),
        ]
        for c in cases {
            expectError({ $0[c.key] = c.value }) { error in
                guard case .wrongConfigType(let file, let key, _, let found) = error else { return XCTFail("\(c.key): got \(error)") }
                XCTAssertTrue(file.hasSuffix("config.json"))
                XCTAssertEqual(key, c.key)
                XCTAssertEqual(found, c.found, c.key)
                XCTAssertTrue("\(error)".contains(c.key) && "\(error)".contains(c.found), "\(error)")
            }
        }
    }

    func testUnsupportedSettingsNameTheValueAndWhatIsSupported() {
        let cases: [(key: String, value: Any, shown: String)] = [
            ("position_embedding_type", "relative_key", "\"relative_key\""),
            ("position_embedding_type", "relative_key_query", "\"relative_key_query\""),
            ("is_decoder", true, "true"),
            ("add_cross_attention", true, "true"),
        ]
        for c in cases {
            expectError({ $0[c.key] = c.value }) { error in
                guard case .unsupportedConfigSetting(_, let key, let value, let supported) = error else {
                    return XCTFail("\(c.key): got \(error)")
                }
                XCTAssertEqual(key, c.key)
                XCTAssertEqual(value, c.shown)
                XCTAssertFalse(supported.isEmpty)
                XCTAssertTrue("\(error)".contains(c.key) && "\(error)".contains(supported), "\(error)")
            }
        }
    }

    func testSupportedValuesOfThoseSettingsLoad() throws {
        XCTAssertNoThrow(try load { $0["position_embedding_type"] = "absolute"; $0["is_decoder"] = false; $0["add_cross_attention"] = false })
        XCTAssertNoThrow(try load { $0.removeValue(forKey: "is_decoder"); $0.removeValue(forKey: "add_cross_attention") })
        for act in ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"] {
            XCTAssertEqual(try load { $0["hidden_act"] = act }.hiddenAct.rawValue, act)
        }
    }

    func testNumbersBeyondAnyRoBERTaAreRefusedBeforeUse() {
        let cases: [(key: String, value: Int)] = [
            ("hidden_size", 1 << 40), ("vocab_size", 1 << 40), ("num_hidden_layers", 1 << 30),
            ("intermediate_size", 1 << 40), ("max_position_embeddings", 1 << 40), ("type_vocab_size", 1 << 30),
            ("num_attention_heads", 1 << 30),
        ]
        for c in cases {
            expectError({ $0[c.key] = c.value }) { error in
                guard case .invalidConfig(_, let detail) = error else { return XCTFail("\(c.key): got \(error)") }
                XCTAssertTrue(detail.contains(c.key), detail)
                XCTAssertTrue(detail.contains("\(c.value)"), detail)
            }
        }
    }

    func testNonPositiveAndInconsistentNumbersAreRefused() {
        for (key, value) in [("hidden_size", 0), ("num_attention_heads", -4), ("max_position_embeddings", -1), ("pad_token_id", -1)] {
            expectError({ $0[key] = value }) { error in
                guard case .invalidConfig(_, let detail) = error else { return XCTFail("\(key): got \(error)") }
                XCTAssertTrue(detail.contains(key), detail)
            }
        }
        expectError({ $0["num_attention_heads"] = 5 }) { error in
            guard case .invalidConfig(_, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(detail.contains("num_attention_heads"), detail)
        }
        expectError({ $0["layer_norm_eps"] = 0 }) { error in
            guard case .invalidConfig(_, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertTrue(detail.contains("layer_norm_eps"), detail)
        }
    }
}
