import Foundation
import RoBERTa
import Workbench
import XCTest
@testable import maskscope

/// `--precision auto|f32|bf16|f16` on every command that loads a model, as users run it.
final class PrecisionFlagTests: XCTestCase {
    static let fixtures = repoRoot.appendingPathComponent("Tests/Fixtures/models")
    static let tiny = fixtures.appendingPathComponent("tiny").path
    static let tinyBF16 = fixtures.appendingPathComponent("tiny-bf16").path

    /// Whether this CPU runs MaskScope's AVX2 kernels (AVX2, FMA and F16C), which 16-bit precision needs.
    static let kernels: Bool = {
        // read to the end: /proc files have no size for String(contentsOfFile:)
        guard let handle = FileHandle(forReadingAtPath: "/proc/cpuinfo") else { return false }
        let info = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return set.isSuperset(of: ["avx2", "fma", "f16c"])
    }()

    func object(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func testEveryModelCommandTakesPrecision() throws {
        for command in ["workbench", "predict", "score", "eval", "inspect", "bench", "serve", "export"] {
            let help = try runMaskscope([command, "--help"])
            XCTAssertEqual(help.status, 0, help.stderr)
            XCTAssertTrue(help.stdout.contains("--precision <auto|f32|bf16|f16>"), "\(command): \(help.stdout)")
        }
    }

    func testABadPrecisionIsAUsageErrorNamingTheValidOnes() throws {
        for command in ["workbench", "predict", "score", "eval", "inspect", "bench", "serve", "export"] {
            let run = try runMaskscope([command, "--model", Self.tiny, "--precision", "fp8"])
            XCTAssertEqual(run.status, 64, "\(command): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("'fp8' is invalid for '--precision"), "\(command): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("'auto', 'f32', 'bf16' or 'f16'"), "\(command): \(run.stderr)")
        }
    }

    func testInspectJSONSaysWhichPrecisionRan() throws {
        var cases: [([String], String, Bool)] = [([], "f32", false), (["--precision", "f32"], "f32", false)]
        if Self.kernels { cases += [(["--precision", "bf16"], "bf16", true), (["--precision", "f16"], "f16", true)] }
        for (extra, precision, rounded) in cases {
            let run = try runMaskscope(["inspect", "--model", Self.tiny, "--json"] + extra + ["Paris is the <mask> of France."])
            XCTAssertEqual(run.status, 0, run.stderr)
            let json = try object(run.stdout)
            XCTAssertEqual(json["precision"] as? String, precision, "\(extra)")
            XCTAssertEqual(json["rounded_at_load"] as? Bool, rounded, "\(extra)")
        }
        // A bfloat16 checkpoint runs bfloat16 as stored: nothing rounded.
        let stored = try runMaskscope(["inspect", "--model", Self.tinyBF16, "--json", "Paris is the <mask> of France."])
        XCTAssertEqual(stored.status, 0, stored.stderr)
        if Self.kernels {
            XCTAssertEqual(try object(stored.stdout)["precision"] as? String, "bf16")
            XCTAssertEqual(try object(stored.stdout)["rounded_at_load"] as? Bool, false)
        }
    }

    func testBenchJSONSaysWhichPrecisionRan() throws {
        try XCTSkipUnless(Self.kernels, "16-bit precision needs the AVX2 kernels")
        let run = try runMaskscope(["bench", "--model", Self.tiny, "--precision", "f16", "--json", "--runs", "1", "--warmup", "0",
                                    "--typing-interval", "0", "--batch-runs", "0", "--text", "Paris is the <mask> of France."])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try object(run.stdout)
        XCTAssertEqual(json["precision"] as? String, "f16")
        XCTAssertEqual(json["rounded_at_load"] as? Bool, true)
        XCTAssertEqual(json["matrices"] as? String, "F16")
        let plain = try runMaskscope(["bench", "--model", Self.tiny, "--json", "--runs", "1", "--warmup", "0",
                                      "--typing-interval", "0", "--batch-runs", "0", "--text", "Paris is the <mask> of France."])
        XCTAssertEqual(try object(plain.stdout)["precision"] as? String, "f32")
        XCTAssertEqual(try object(plain.stdout)["rounded_at_load"] as? Bool, false)
    }

    /// predict's JSON contract is unchanged: the same keys and candidates in the same shape, the scores within
    /// bfloat16's reach of float32's; a bfloat16 checkpoint with --precision bf16 answers exactly as without.
    func testPredictKeepsItsContractAndAnswersCloseToFloat32() throws {
        try XCTSkipUnless(Self.kernels, "16-bit precision needs the AVX2 kernels")
        func answer(_ model: String, _ extra: [String]) throws -> [[String: Any]] {
            let run = try runMaskscope(["predict", "--model", model, "--top-k", "3"] + extra + ["Paris is the <mask> of France."])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.stderr, "", "no warning")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]], run.stdout)
        }
        let float32 = try answer(Self.tiny, [])
        for precision in ["bf16", "f16"] {
            let rounded = try answer(Self.tiny, ["--precision", precision])
            XCTAssertEqual(rounded.map { Array($0.keys).sorted() }, float32.map { Array($0.keys).sorted() })
            XCTAssertEqual(rounded.first?["token"] as? Int, float32.first?["token"] as? Int, precision)
            let a = (rounded.first?["score"] as? NSNumber)?.doubleValue ?? .nan, b = (float32.first?["score"] as? NSNumber)?.doubleValue ?? 0
            XCTAssertEqual(a, b, accuracy: 5e-3, precision)
        }
        let stored = try runMaskscope(["predict", "--model", Self.tinyBF16, "Paris is the <mask> of France."])
        let asked = try runMaskscope(["predict", "--model", Self.tinyBF16, "--precision", "bf16", "Paris is the <mask> of France."])
        XCTAssertEqual(asked.status, 0, asked.stderr)
        XCTAssertEqual(asked.stdout, stored.stdout)
    }

    func testWithOpenBLASSixteenBitPrecisionFailsClearly() throws {
        for precision in ["bf16", "f16"] {
            let run = try runMaskscope(["predict", "--model", Self.tiny, "--precision", precision, "Paris is the <mask> of France."],
                                       environment: ["MASKSCOPE_KERNELS": "openblas"])
            XCTAssertEqual(run.status, 1, run.stderr)
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains("--precision \(precision) needs MaskScope's AVX2 kernels"), run.stderr)
            XCTAssertTrue(run.stderr.contains("MASKSCOPE_KERNELS=openblas"), run.stderr)
        }
        let float32 = try runMaskscope(["predict", "--model", Self.tiny, "--precision", "f32", "Paris is the <mask> of France."],
                                       environment: ["MASKSCOPE_KERNELS": "openblas"])
        XCTAssertEqual(float32.status, 0, float32.stderr)
    }

    func testScoreAndEvalRunWithSixteenBitPrecision() throws {
        try XCTSkipUnless(Self.kernels, "16-bit precision needs the AVX2 kernels")
        let score = try runMaskscope(["score", "--model", Self.tiny, "--precision", "bf16", "--json", "Paris is the capital of France."])
        XCTAssertEqual(score.status, 0, score.stderr)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maskscope-precision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: directory) }
        let corpus = directory.appendingPathComponent("corpus.txt")
        try Data("Paris is the capital of France.\nThe river runs to the sea.\n".utf8).write(to: corpus)
        let eval = try runMaskscope(["eval", "--model", Self.tiny, "--precision", "f16", "--json", corpus.path])
        XCTAssertEqual(eval.status, 0, eval.stderr)
    }

    /// The workbench's status line shows a model by its ModelInfo name: a rounded one says its precision.
    func testTheWorkbenchNamesARoundedModelWithItsPrecision() throws {
        try XCTSkipUnless(Self.kernels, "16-bit precision needs the AVX2 kernels")
        let rounded = try RobertaModel.load(directory: URL(fileURLWithPath: Self.tiny), precision: .bf16)
        XCTAssertEqual(ModelInfo(rounded, name: "tiny", path: "tiny", directory: Self.tiny).name, "tiny bf16")
        let plain = try RobertaModel.load(directory: URL(fileURLWithPath: Self.tiny))
        XCTAssertEqual(ModelInfo(plain, name: "tiny", path: "tiny", directory: Self.tiny).name, "tiny")
        let stored = try RobertaModel.load(directory: URL(fileURLWithPath: Self.tinyBF16), precision: .bf16)
        XCTAssertEqual(ModelInfo(stored, name: "tiny-bf16", path: "tiny-bf16", directory: Self.tinyBF16).name, "tiny-bf16",
                       "nothing rounded: the checkpoint's own format, as without --precision")
    }
}
