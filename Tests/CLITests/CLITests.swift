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

    /// bench --json gives every case the GFLOP/s of the weight products at its token count and their share of the
    /// FMA peak, and says the peak and its vector width once; the text output has a line per token count.
    func testBenchReportsWeightProductsAgainstTheFMAPeak() throws {
        let arguments = ["bench", "--model", Self.tiny, "--runs", "2", "--warmup", "0", "--typing-interval", "0", "--batch-runs", "0",
                         "--text", "Paris is the <mask> of France."]
        let result = try run(arguments + ["--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
        // Numbers in the text itself, not true/false or strings (which Foundation on Linux may also bridge).
        for key in ["fma_peak_gflops", "fma_width_bits", "products_gflops", "products_peak_fraction", "second_answer_ms"] {
            XCTAssertNotNil(result.stdout.range(of: "\"\(key)\": [0-9]", options: .regularExpression), "\(key) in \(result.stdout)")
        }
        let peak = try XCTUnwrap(number(object["fma_peak_gflops"]), result.stdout)
        let width = try XCTUnwrap(object["fma_width_bits"] as? Int, result.stdout)
        XCTAssertTrue([0, 256, 512].contains(width), result.stdout)
        if width > 0 { XCTAssertGreaterThan(peak, 0) }
        let cases = try XCTUnwrap(object["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 2)
        for c in cases {
            let gflops = try XCTUnwrap(number(c["products_gflops"]), "\(c)")
            let fraction = try XCTUnwrap(number(c["products_peak_fraction"]), "\(c)")
            XCTAssertGreaterThan(gflops, 0)
            if peak > 0 {
                // Both are rounded in the JSON (0.1 GFLOP/s, 0.001).
                XCTAssertEqual(fraction, gflops / peak, accuracy: 0.0011 + 0.05 / peak)
            }
            XCTAssertNotNil(c["median_ms"] as? NSNumber, "the existing fields stay")
        }
        // The tiny model is below the size worth a panel cache file: bench says so, and why.
        let cache = try XCTUnwrap(object["panel_cache"] as? [String: Any], result.stdout)
        XCTAssertEqual(cache["at_load"] as? String, "off")
        XCTAssertEqual(cache["state"] as? String, "off")
        XCTAssertTrue(cache["path"] is NSNull && cache["write_ms"] is NSNull, "\(cache)")
        let detail = try XCTUnwrap(cache["detail"] as? String)
        XCTAssertTrue(detail.contains("below the 64 MiB worth caching") || detail.contains("OpenBLAS"), detail)
        let text = try run(arguments)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("\npanels     cache off ("), text.stdout)
        let line = try XCTUnwrap(text.stdout.split(separator: "\n").first { $0.hasPrefix("products ") }, text.stdout)
        XCTAssertTrue(line.contains(" tokens, 12 weight products: "), String(line))
        XCTAssertTrue(line.contains("GFLOP/s"), String(line))
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
