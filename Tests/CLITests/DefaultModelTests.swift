import Foundation
import XCTest

/// predict, inspect, bench, tokenize and models with no --model: the first cached model, else pocket-teacher. The
/// pocket models are fixture copies found through MASKSCOPE_POCKET_MODELS (teacher: `tiny`, 2 layers;
/// student: `tiny-untied`, 3 layers), and the Hugging Face cache is an empty folder unless a test fills it.
final class DefaultModelTests: XCTestCase {
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures/models")
    static let sentence = "Paris is the <mask> of France."

    /// An empty cache and a pocket folder; `HF_HUB_CACHE` and `MASKSCOPE_POCKET_MODELS` pointing at them.
    func environment() throws -> (cache: URL, pocket: URL, variables: [String: String]) {
        let cache = try scratch(), pocket = try scratch()
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tiny"), to: pocket.appendingPathComponent("pocket-teacher"))
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tiny-untied"), to: pocket.appendingPathComponent("pocket-student"))
        return (cache, pocket, ["HF_HUB_CACHE": cache.path, "MASKSCOPE_POCKET_MODELS": pocket.path])
    }

    func testPredictWithoutModelAnswersWithThePocketTeacherAndSaysSo() throws {
        let env = try environment()
        let result = try runMaskscope(["predict", Self.sentence], environment: env.variables)
        XCTAssertEqual(result.status, 0, result.stderr)
        let named = try runMaskscope(["predict", "--model", Self.fixtures.appendingPathComponent("tiny").path, Self.sentence])
        XCTAssertEqual(result.stdout, named.stdout, "the teacher's answer")
        XCTAssertEqual(result.stderr, "warning: using the pocket model pocket-teacher (not RoBERTa); the real models: "
                       + "maskscope pull roberta-base roberta-large distilroberta-base\n")
        // The name works as --model too.
        let byName = try runMaskscope(["predict", "--model", "pocket-teacher", Self.sentence], environment: env.variables)
        XCTAssertEqual(byName.stdout, named.stdout, byName.stderr)
    }

    func testInspectBenchAndTokenizeWithoutModelUseThePocketTeacher() throws {
        let env = try environment()
        let tokenize = try runMaskscope(["tokenize", Self.sentence], environment: env.variables)
        XCTAssertEqual(tokenize.status, 0, tokenize.stderr)
        XCTAssertEqual(tokenize.stdout, try runMaskscope(["tokenize", "--model", Self.fixtures.appendingPathComponent("tiny").path, Self.sentence]).stdout)
        let inspect = try runMaskscope(["inspect", Self.sentence], environment: env.variables)
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.hasPrefix("2 layers, 4 heads"), inspect.stdout)
        let bench = try runMaskscope(["bench", "--json", "--runs", "1", "--warmup", "0", "--typing-interval", "0", "--text", Self.sentence],
                                     environment: env.variables)
        XCTAssertEqual(bench.status, 0, bench.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["model"] as? String, "pocket-teacher")
        XCTAssertEqual(object["layers"] as? Int, 2)
    }

    func testBrokenPocketTeacherIsSkippedWithAWarningAndTheStudentAnswers() throws {
        let env = try environment()
        try FileManager.default.removeItem(at: env.pocket.appendingPathComponent("pocket-teacher/config.json"))
        let result = try runMaskscope(["inspect", Self.sentence], environment: env.variables)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("3 layers"), result.stdout)
        XCTAssertTrue(result.stderr.hasPrefix("warning: pocket-teacher skipped: \(env.pocket.path)/pocket-teacher lacks config.json\n"), result.stderr)
        XCTAssertTrue(result.stderr.contains("using the pocket model pocket-student"), result.stderr)
    }

    func testAModelInTheCacheComesBeforeThePocketModels() throws {
        let env = try environment()
        // roberta-base as the cache holds it (a snapshot named by refs/main), here the 3-layer fixture.
        let folder = env.cache.appendingPathComponent("models--FacebookAI--roberta-base")
        let snapshot = folder.appendingPathComponent("snapshots/0123456789abcdef0123456789abcdef01234567")
        try FileManager.default.createDirectory(at: snapshot.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("tiny-untied"), to: snapshot)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data(snapshot.lastPathComponent.utf8).write(to: folder.appendingPathComponent("refs/main"))
        let result = try runMaskscope(["inspect", Self.sentence], environment: env.variables)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("3 layers"), result.stdout)
        XCTAssertEqual(result.stderr, "", "no pocket warning with a real model")
    }

    func testModelsListsThePocketPairInTextAndJSON() throws {
        let env = try environment()
        let text = try runMaskscope(["models"], environment: env.variables)
        XCTAssertEqual(text.status, 0, text.stderr)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        let heading = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Pocket models") }, text.stdout)
        XCTAssertTrue(lines[heading + 2].hasPrefix("pocket-teacher "), text.stdout)
        XCTAssertTrue(lines[heading + 2].hasSuffix(env.pocket.appendingPathComponent("pocket-teacher").path), text.stdout)
        XCTAssertTrue(lines[heading + 3].hasPrefix("pocket-student "), text.stdout)
        XCTAssertEqual(lines.last, "Fetch the real models with: maskscope pull roberta-base roberta-large distilroberta-base")
        XCTAssertFalse(text.stdout.lowercased().contains("demo"), text.stdout)

        let json = try runMaskscope(["models", "--json"], environment: env.variables)
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["pocket"] as? [String], ["pocket-teacher", "pocket-student"].map { env.pocket.appendingPathComponent($0).path })
        XCTAssertNil(object["demo"])
    }

    func testHelpNamesThePocketModelsAsTheDefault() throws {
        for command in ["predict", "inspect", "bench", "tokenize"] {
            let help = try runMaskscope([command, "--help"])
            XCTAssertEqual(help.status, 0, help.stderr)
            let flat = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            XCTAssertTrue(flat.contains("Default: the first model in the cache, else pocket-teacher."), "\(command):\n\(help.stdout)")
        }
        let workbench = try runMaskscope(["workbench", "--help"])
        let flat = workbench.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        XCTAssertTrue(flat.contains("else pocket-teacher and pocket-student"), workbench.stdout)
        for command in ["workbench", "predict", "inspect", "bench", "models", "tokenize", "pull"] {
            XCTAssertFalse(try runMaskscope([command, "--help"]).stdout.lowercased().contains("demo"), command)
        }
    }
}
