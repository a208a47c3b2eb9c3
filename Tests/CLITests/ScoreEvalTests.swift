import Foundation
import XCTest
@testable import maskscope

/// `maskscope score` and `maskscope eval` as users run them: output shapes, merging, errors, Ctrl-C.
final class ScoreEvalTests: XCTestCase {
    static let teacher = repoRoot.appendingPathComponent("models/pocket-teacher").path
    static let student = repoRoot.appendingPathComponent("models/pocket-student").path
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path

    func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    func corpus(_ lines: [String], name: String = "corpus.txt") throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent(name)
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: url)
        return url.path
    }

    static let sentences = [
        "Paris is the capital of France.", "The river runs to the sea.", "A dictionary defines words.",
        "Cats sleep a lot during the day.", "Python lists hold items in order.", "The sun rises in the east.",
    ]

    func testScoreJSONHasOneEntryPerText() throws {
        let run = try runMaskscope(["score", "--model", Self.teacher, "--json", "Paris is the capital of France.", "Hello"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let list = try XCTUnwrap(try json(run.stdout) as? [[String: Any]])
        XCTAssertEqual(list.count, 2)
        for entry in list {
            XCTAssertEqual(Set(entry.keys), ["text", "tokens", "token_log_probs", "pll", "pseudo_perplexity"])
            let logProbs = try XCTUnwrap(entry["token_log_probs"] as? [Double])
            XCTAssertEqual((entry["tokens"] as? [String])?.count, logProbs.count)
            let pll = try XCTUnwrap(entry["pll"] as? Double)
            XCTAssertEqual(pll, logProbs.reduce(0, +), accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(entry["pseudo_perplexity"] as? Double), exp(-pll / Double(logProbs.count)), accuracy: 1e-9)
        }
        XCTAssertEqual(list[0]["tokens"] as? [String], ["Par", "is", "Ġis", "Ġthe", "Ġcapital", "Ġof", "ĠFrance", "."])
    }

    func testScoreTableAndStandardInput() throws {
        let run = try runMaskscope(["score", "--model", Self.teacher], stdin: "Paris is the capital of France.\n\nCats sleep.\n")
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("Paris is the capital of France.\npll -"), run.stdout)
        XCTAssertTrue(run.stdout.contains("over 8 tokens, pseudo-perplexity"), run.stdout)
        XCTAssertTrue(run.stdout.contains("\n\nCats sleep.\n"), run.stdout)
        let empty = try runMaskscope(["score", "--model", Self.teacher, ""])
        XCTAssertEqual(empty.status, 1)
        XCTAssertTrue(empty.stderr.contains("has no token to score"), empty.stderr)
    }

    func testEvalJSONHasTheIssueShapeAndMergesShards() throws {
        let path = try corpus(Self.sentences)
        let whole = try runMaskscope(["eval", "--model", Self.teacher, "--model", Self.student, "--json", "--seed", "2", path])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let report = try XCTUnwrap(try json(whole.stdout) as? [String: Any])
        let models = try XCTUnwrap(report["models"] as? [[String: Any]])
        XCTAssertEqual(models.count, 2)
        for m in models {
            for key in ["model", "sentences", "masked_tokens", "top1_accuracy", "top5_accuracy", "mean_log_likelihood", "pseudo_perplexity"] {
                XCTAssertNotNil(m[key], key)
            }
            XCTAssertEqual(m["sentences"] as? Int, Self.sentences.count)
        }
        let agreement = try XCTUnwrap(report["agreement"] as? [String: Any])
        for key in ["masks", "top1_agreement", "mean_kl", "mean_js", "top5_overlap", "spearman"] { XCTAssertNotNil(agreement[key], key) }
        XCTAssertEqual(report["complete"] as? Bool, true)

        // Two shards, merged: the same counts and sums as the whole run.
        var parts: [String] = []
        for shard in ["1/2", "2/2"] {
            let run = try runMaskscope(["eval", "--model", Self.teacher, "--model", Self.student, "--json", "--seed", "2", "--shard", shard, path])
            XCTAssertEqual(run.status, 0, run.stderr)
            let file = try corpus([run.stdout], name: "part.json")
            parts.append(file)
        }
        let merged = try runMaskscope(["eval", "--merge", "--json"] + parts)
        XCTAssertEqual(merged.status, 0, merged.stderr)
        let m = try XCTUnwrap(try json(merged.stdout) as? [String: Any])
        let mergedModels = try XCTUnwrap(m["models"] as? [[String: Any]])
        for (a, b) in zip(mergedModels, models) {
            XCTAssertEqual(a["masked_tokens"] as? Int, b["masked_tokens"] as? Int)
            XCTAssertEqual(a["top1_hits"] as? Int, b["top1_hits"] as? Int)
            XCTAssertEqual(try XCTUnwrap(a["log_likelihood_sum"] as? Double), try XCTUnwrap(b["log_likelihood_sum"] as? Double), accuracy: 1e-9)
        }
        XCTAssertEqual(m["shards"] as? [String], ["1/2", "2/2"])
    }

    func testEvalTableCSVAndDetails() throws {
        let path = try corpus(Self.sentences)
        let details = path + ".details.jsonl"
        let table = try runMaskscope(["eval", "--model", Self.teacher, "--model", Self.student, "--mode", "all", "--details", details, path])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("mode all:"), table.stdout)
        XCTAssertTrue(table.stdout.contains("agreement, \(Self.student) against \(Self.teacher)"), table.stdout)
        XCTAssertTrue(table.stdout.contains("sentences/s"), table.stdout)
        let lines = try String(contentsOfFile: details, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, Self.sentences.count)
        let first = try XCTUnwrap(try json(String(lines[0])) as? [String: Any])
        XCTAssertEqual(Set(first.keys), ["document", "window", "text", "ids", "mode", "positions", "models", "agreement"])
        let csv = try runMaskscope(["eval", "--model", Self.teacher, "--mode", "pll", "--csv", path])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        let rows = csv.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 2)
        XCTAssertTrue(rows[0].hasPrefix("model,sentences,masked_tokens,top1_accuracy"))
        XCTAssertTrue(rows[1].hasPrefix("\(Self.teacher),6,"), String(rows[1]))
    }

    func testEvalOfModelsWithDifferentVocabulariesScoresEachAlone() throws {
        let path = try corpus(Self.sentences)
        let run = try runMaskscope(["eval", "--model", Self.teacher, "--model", Self.tiny, "--json", path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("do not share a vocabulary (8192 and 1000 entries)"), run.stderr)
        let report = try XCTUnwrap(try json(run.stdout) as? [String: Any])
        XCTAssertTrue(report["agreement"] is NSNull)
        XCTAssertEqual((report["models"] as? [Any])?.count, 2)
    }

    func testEvalErrors() throws {
        let path = try corpus(Self.sentences)
        let cases: [([String], String)] = [
            (["eval", "--model", Self.teacher], "give the corpus file to evaluate"),
            (["eval", "--model", Self.teacher, "/nonexistent/corpus.txt"], "no corpus file /nonexistent/corpus.txt"),
            (["eval", "--model", Self.teacher, "--shard", "3/2", path], "--shard must be I/N with 1 <= I <= N"),
            (["eval", "--model", Self.teacher, "--mode", "some", path], "--mode must be one, all or pll (got some)"),
            (["eval", "--model", Self.teacher, "--fraction", "0", path], "--fraction must be above 0 and at most 1 (got 0)"),
            (["eval", path], "give --model once, or twice"),
            (["eval", "--model", Self.teacher, "/"], "/ is a directory, not a corpus file"),
            (["eval", "--model", Self.teacher, "-"], "standard input holds no document to evaluate"),
            (["eval", "--merge", path], "is not an eval --json report"),
            (["eval", "--model", Self.teacher, "--field", "body", path], "line 1: not JSON; --field reads JSON Lines"),
            (["eval", "--model", Self.teacher, "--field", "body", try corpus(["{\"text\": \"a\"}"], name: "c.jsonl")], "no field \"body\""),
        ]
        for (arguments, message) in cases {
            let run = try runMaskscope(arguments)
            XCTAssertNotEqual(run.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(run.stderr.contains(message), "\(arguments.joined(separator: " ")): \(run.stderr)")
        }
    }

    func testCtrlCPrintsWhatWasMeasuredSoFar() throws {
        let path = try corpus(Array(repeating: Self.sentences, count: 200).flatMap { $0 })
        let process = Process()
        process.executableURL = maskscopeBinary
        let details = path + ".details.jsonl"
        process.arguments = ["eval", "--model", Self.teacher, "--mode", "pll", "--batch-tokens", "64", "--threads", "1", "--json",
                             "--details", details, path]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let collected = Collected(), errors = Collected()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { collected.append(out.fileHandleForReading.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: group) { errors.append(err.fileHandleForReading.readDataToEndOfFile()) }
        // Once the first sentences are done (their lines are in the details file; a sanitizer build is slow).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, process.isRunning,
              (try? String(contentsOfFile: details, encoding: .utf8))?.split(separator: "\n").count ?? 0 < 2 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertTrue(process.isRunning, "the evaluation ended before Ctrl-C: make the corpus longer")
        kill(process.processIdentifier, SIGINT)
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, errors.text)
        XCTAssertTrue(errors.text.contains("interrupted"), errors.text)
        let report = try XCTUnwrap(try json(collected.text) as? [String: Any])
        XCTAssertEqual(report["complete"] as? Bool, false)
        let sentences = try XCTUnwrap((report["models"] as? [[String: Any]])?.first?["sentences"] as? Int)
        XCTAssertGreaterThan(sentences, 0)
        XCTAssertLessThan(sentences, 1200)
    }
}

/// bench's built-in batch is the file Scripts/bench_batch.py times transformers and ONNX Runtime on.
final class BenchBatchSentencesTests: XCTestCase {
    func testBuiltInBatchIsTheScriptsFile() throws {
        let file = try String(contentsOf: repoRoot.appendingPathComponent("Scripts/bench_batch_sentences.txt"), encoding: .utf8)
        XCTAssertEqual(BatchMeasurement.defaultSentences, file.split(separator: "\n").map(String.init))
        XCTAssertEqual(BatchMeasurement.defaultSentences.count, 32)
        XCTAssertTrue(BatchMeasurement.defaultSentences.allSatisfy { $0.components(separatedBy: "<mask>").count == 2 })
    }
}
