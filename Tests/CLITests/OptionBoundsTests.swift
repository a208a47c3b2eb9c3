import Foundation
import XCTest

/// Every numeric option of every subcommand has bounds, and a value outside them is a one-line usage error
/// (exit 64) that names the option, the bounds and the value; --threads above its cap is lowered with a notice.
final class OptionBoundsTests: XCTestCase {
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path
    static let sentence = "Paris is the <mask> of France."

    func testThreadsAboveTheCapAreLoweredWithANotice() throws {
        let cap = 2 * ProcessInfo.processInfo.activeProcessorCount
        let plain = try runMaskscope(["predict", "--model", Self.tiny, Self.sentence])
        for threads in ["3000000000", "256"] {
            let run = try runMaskscope(["predict", "--model", Self.tiny, "--threads", threads, Self.sentence], timeout: 60)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(run.stdout, plain.stdout)
            XCTAssertEqual(run.stderr, "warning: --threads \(threads) is more than twice the \(cap / 2) cores here; using \(cap) "
                           + "(threads beyond the cores only wait for one another)\n")
        }
        let atCap = try runMaskscope(["predict", "--model", Self.tiny, "--threads", String(cap), Self.sentence])
        XCTAssertEqual(atCap.stderr, "")
    }

    /// The workbench takes the same cap (3000000000 used to trap there): with no terminal it ends as it does
    /// without --threads, after the warning.
    func testWorkbenchThreadsAboveTheCapAreLoweredNotATrap() throws {
        let cap = 2 * ProcessInfo.processInfo.activeProcessorCount
        let plain = try runMaskscope(["--model", Self.tiny], timeout: 60)
        let run = try runMaskscope(["--model", Self.tiny, "--threads", "3000000000"], timeout: 60)
        XCTAssertEqual(run.status, plain.status, run.stderr)
        XCTAssertEqual(run.stderr, "warning: --threads 3000000000 is more than twice the \(cap / 2) cores here; using \(cap) "
                       + "(threads beyond the cores only wait for one another)\n" + plain.stderr)
    }

    func testNumericOptionsOutOfBoundsAreUsageErrors() throws {
        let cases: [(arguments: [String], message: String)] = [
            (["predict", "--threads", "0", Self.sentence], "--threads must be at least 1 (got 0)"),
            (["predict", "--threads=-3", Self.sentence], "--threads must be at least 1 (got -3)"),
            (["predict", "--top-k", "0", Self.sentence], "--top-k must be at least 1 (got 0)"),
            (["inspect", "--top-k=-1", Self.sentence], "--top-k must be at least 1 (got -1)"),
            (["bench", "--runs", "0"], "--runs must be between 1 and 1000 (got 0)"),
            (["bench", "--runs", "1000000"], "--runs must be between 1 and 1000 (got 1000000)"),
            (["bench", "--warmup=-1"], "--warmup must be between 0 and 100 (got -1)"),
            (["bench", "--warmup", "101"], "--warmup must be between 0 and 100 (got 101)"),
            (["bench", "--typing-interval", "inf"], "--typing-interval must be between 0 and 1000 milliseconds (got inf)"),
            (["bench", "--typing-interval", "nan"], "--typing-interval must be between 0 and 1000 milliseconds (got nan)"),
            (["bench", "--typing-interval", "1e9"], "--typing-interval must be between 0 and 1000 milliseconds (got 1000000000)"),
            (["bench", "--typing-interval=-5"], "--typing-interval must be between 0 and 1000 milliseconds (got -5)"),
            (["bench"] + Array(repeating: ["--text", Self.sentence], count: 11).joined(), "--text may be given at most 10 times (got 11)"),
            (["bench", "--typing-interval", "1000", "--text", String(repeating: "a", count: 601) + " <mask>"],
             "typing the first sentence (608 characters) one key every 1000 ms would take over 10 minutes; give a shorter first --text or a smaller --typing-interval"),
        ]
        for (arguments, message) in cases {
            let run = try runMaskscope(Array(arguments.prefix(1)) + ["--model", Self.tiny] + arguments.dropFirst(), timeout: 60)
            XCTAssertFalse(run.timedOut, "\(arguments) did not end")
            XCTAssertEqual(run.status, 64, "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stderr.split(separator: "\n").first.map(String.init), "Error: " + message, "\(arguments)")
        }
    }

    func testTopKAboveTheVocabularyIsAnError() throws {
        let option = try runMaskscope(["predict", "--model", Self.tiny, "--top-k", "1001", Self.sentence])
        XCTAssertEqual(option.status, 1, option.stderr)
        XCTAssertEqual(option.stderr, "Error: --top-k 1001 is more than the 1000 tokens of the model's vocabulary; ask for at most 1000\n")
        let inspect = try runMaskscope(["inspect", "--model", Self.tiny, "--top-k", "99999999999", Self.sentence])
        XCTAssertEqual(inspect.status, 1, inspect.stderr)
        XCTAssertTrue(inspect.stderr.hasPrefix("Error: --top-k 99999999999 is more than the 1000 tokens"), inspect.stderr)
        let request = try runMaskscope(["predict", "--model", Self.tiny], stdin: #"{"inputs": "A <mask>.", "parameters": {"top_k": 5000}}"#)
        XCTAssertEqual(request.status, 1, request.stderr)
        XCTAssertEqual(request.stderr, "Error: parameters.top_k 5000 is more than the 1000 tokens of the model's vocabulary; ask for at most 1000\n")
        let all = try runMaskscope(["predict", "--model", Self.tiny, "--top-k", "1000", Self.sentence])
        XCTAssertEqual(all.status, 0, all.stderr)
    }

    func testTopKGivenAsAStringSaysSo() throws {
        let run = try runMaskscope(["predict", "--model", Self.tiny], stdin: #"{"inputs": "A <mask>.", "parameters": {"top_k": "32"}}"#)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(run.stderr, #"Error: parameters.top_k must be a whole number of at least 1 but is the string "32"; write the number without quotes: "top_k": 32"# + "\n")
        for (value, shown) in [("0", "the number 0"), ("2.5", "the number 2.5"), ("true", "true"), ("[3]", "a list")] {
            let other = try runMaskscope(["predict", "--model", Self.tiny], stdin: #"{"inputs": "A <mask>.", "parameters": {"top_k": "# + value + "}}")
            XCTAssertEqual(other.stderr, "Error: parameters.top_k must be a whole number of at least 1 but is \(shown)\n")
        }
    }

    func testHelpStatesTheBounds() throws {
        let bench = try runMaskscope(["bench", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["Timed runs per case, 1 to 1000.", "Untimed runs first, 0 to 100.", "0 to 1000; 0 skips the typing", "at most 10 times",
                       "at most twice the cores", "MASKSCOPE_PANEL_CACHE=FOLDER or =off"] {
            XCTAssertTrue(bench.contains(phrase), "\(phrase) not in bench --help:\n\(bench)")
        }
        let predict = try runMaskscope(["predict", "--help"]).stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["at most the model's vocabulary", "at most twice the cores", "1 MiB", "16 MiB", "MASKSCOPE_PANEL_CACHE=FOLDER or =off"] {
            XCTAssertTrue(predict.contains(phrase), "\(phrase) not in predict --help:\n\(predict)")
        }
    }
}
