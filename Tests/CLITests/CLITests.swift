import Foundation
import XCTest
@testable import maskscope

/// Runs the built `maskscope` binary the way users do and checks its output and exit codes.
final class CLITests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path

    typealias Run = BinaryRun

    func run(_ arguments: [String], stdin: String? = nil) throws -> Run {
        try runMaskscope(arguments, stdin: stdin)
    }

    func reference() throws -> [String: Any] {
        let url = Self.repoRoot.appendingPathComponent("Tests/Fixtures/reference/tiny.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func testEndpointSampleAnswersAsThePipeline() throws {
        let endpoint = try XCTUnwrap(try reference()["endpoint"] as? [String: Any])
        let request = try JSONSerialization.data(withJSONObject: try XCTUnwrap(endpoint["request"]))
        let result = try run(["predict", "--model", Self.tiny], stdin: String(decoding: request, as: UTF8.self))
        XCTAssertEqual(result.status, 0, result.stderr)
        let got = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[[String: Any]]])
        let want = try XCTUnwrap(endpoint["response"] as? [[[String: Any]]])
        XCTAssertEqual(got.count, want.count)
        for (g, w) in zip(got.joined(), want.joined()) {
            XCTAssertEqual(Array(g.keys).sorted(), ["score", "sequence", "token", "token_str"])
            XCTAssertEqual(g["token"] as? Int, w["token"] as? Int)
            XCTAssertEqual(g["token_str"] as? String, w["token_str"] as? String)
            XCTAssertEqual(g["sequence"] as? String, w["sequence"] as? String)
            XCTAssertEqual((g["score"] as? NSNumber)?.doubleValue ?? .nan, (w["score"] as? NSNumber)?.doubleValue ?? 0, accuracy: 1e-5)
        }
        // Keys in the pipeline's order, Python's separators.
        XCTAssertTrue(result.stdout.hasPrefix("[[{\"score\": "), result.stdout)
        XCTAssertTrue(result.stdout.contains(", \"token\": "))
    }

    func testJSONLinesAreAnsweredOneLinePerRequest() throws {
        let lines = [
            #"{"inputs": {"input_string": ["Paris is the <mask> of France."]}, "parameters": {"top_k": 1}}"#,
            #"{"inputs": "Today is a <mask> day!", "parameters": {"top_k": 3}}"#,
        ].joined(separator: "\n") + "\n"
        let result = try run(["predict", "--model", Self.tiny], stdin: lines)
        XCTAssertEqual(result.status, 0, result.stderr)
        let out = result.stdout.split(separator: "\n")
        XCTAssertEqual(out.count, 2)
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out[0].utf8)) as? [[[String: Any]]])
        XCTAssertEqual(first.count, 1)
        XCTAssertEqual(first[0].count, 1)
        let second = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out[1].utf8)) as? [[String: Any]])
        XCTAssertEqual(second.count, 3)
    }

    func testFailingLineInBatchAnswersErrorAndExitsNonZero() throws {
        let lines = #"{"inputs": "no mask here"}"# + "\n" + #"{"inputs": "A <mask>."}"# + "\n"
        let result = try run(["predict", "--model", Self.tiny], stdin: lines)
        XCTAssertNotEqual(result.status, 0)
        let out = result.stdout.split(separator: "\n")
        XCTAssertEqual(out.count, 2)
        XCTAssertTrue(out[0].contains("\"error\""), String(out[0]))
        XCTAssertTrue(out[1].hasPrefix("[{\"score\""), String(out[1]))
    }

    func testMissingModelDirectoryIsOneLineErrorAndNonZeroExit() throws {
        let result = try run(["predict", "--model", "/nonexistent/model", "A <mask>."])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stdout, "")
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("/nonexistent/model"))
    }

    func testTextWithoutMaskFails() throws {
        let result = try run(["predict", "--model", Self.tiny, "no mask here"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("<mask>"), result.stderr)
    }

    func testBadRequestJSONSaysWhatIsWrong() throws {
        let result = try run(["predict", "--model", Self.tiny], stdin: "{\"inputs\": ")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("not valid JSON"), result.stderr)
    }

    func testTargetsOptionRestrictsCandidates() throws {
        let result = try run(["predict", "--model", Self.tiny, "--targets", "the,of", "Paris is <mask> capital."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let got = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(got.count, 2)
    }

    func testInspectJSONHasAttentionForEveryLayerAndHead() throws {
        let result = try run(["inspect", "--model", Self.tiny, "--json", "--top-k", "3", "Paris is the <mask> of France."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ids = try XCTUnwrap(object["ids"] as? [Int])
        XCTAssertEqual((object["tokens"] as? [String])?.count, ids.count)
        let attention = try XCTUnwrap(object["attention"] as? [[[[Double]]]])
        XCTAssertEqual(attention.count, 2)
        XCTAssertEqual(attention[0].count, 4)
        XCTAssertEqual(attention[0][0].count, ids.count)
        XCTAssertEqual(attention[0][0][0].count, ids.count)
        let masks = try XCTUnwrap(object["masks"] as? [[String: Any]])
        XCTAssertEqual(masks.count, 1)
        XCTAssertEqual((masks[0]["top"] as? [[String: Any]])?.count, 3)
        XCTAssertNotNil((masks[0]["top"] as? [[String: Any]])?.first?["logit"])
    }

    func testTokenizeJSONHasIdsTokensOffsetsAndWords() throws {
        let result = try run(["tokenize", "--model", Self.tiny, "--json", "Paris is the <mask> of France."])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ids = try XCTUnwrap(object["ids"] as? [Int])
        XCTAssertEqual((object["tokens"] as? [String])?.count, ids.count)
        XCTAssertEqual((object["offsets"] as? [[Int]])?.count, ids.count)
        XCTAssertFalse(try XCTUnwrap(object["words"] as? [Any]).isEmpty)
    }
}
