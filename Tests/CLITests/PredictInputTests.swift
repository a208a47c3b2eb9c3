import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// How `maskscope predict` reads its requests: JSON Lines answered one at a time as they arrive, with bounded
/// lines, a per-line error for a line that is too long, not UTF-8 or not a request; one (pretty-printed) JSON
/// document as one request; and a clear error for standard input or --input that cannot be read.
final class PredictInputTests: XCTestCase {
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path
    static let request = #"{"inputs": "Paris is the <mask> of France.", "parameters": {"top_k": 2}}"#

    func predict(_ input: StandardInput, _ extra: [String] = [], timeout: TimeInterval = 120) throws -> BinaryRun {
        try runMaskscope(["predict", "--model", Self.tiny] + extra, input: input, timeout: timeout)
    }

    /// The stderr of a run that failed cleanly: one line, no crash report.
    func assertOneLineError(_ run: BinaryRun, contains words: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 1, run.stderr, file: file, line: line)
        XCTAssertFalse(run.stderr.contains("Fatal error"), run.stderr, file: file, line: line)
        XCTAssertEqual(run.stderr.split(separator: "\n").count, 1, run.stderr, file: file, line: line)
        for word in words { XCTAssertTrue(run.stderr.contains(word), "\(word) not in: \(run.stderr)", file: file, line: line) }
    }

    func testStandardInputThatIsADirectoryIsAClearError() throws {
        let directory = try FileHandle(forReadingFrom: try scratch())
        let run = try predict(.handle(directory))
        assertOneLineError(run, contains: ["standard input is a directory"])
    }

    func testClosedStandardInputIsAClearError() throws {
        let run = try predict(.closed)
        assertOneLineError(run, contains: ["standard input is closed"])
    }

    func testEachLineIsAnsweredBeforeTheInputEnds() throws {
        let live = try LiveRun(["predict", "--model", Self.tiny])
        try live.send(Self.request + "\n")
        let first = live.nextLine(timeout: 30)
        XCTAssertNotNil(first, "no answer to the first line while the input stays open")
        XCTAssertTrue(first?.hasPrefix("[{\"score\": ") ?? false, first ?? "")
        try live.send(#"{"inputs": "Today is a <mask> day!", "parameters": {"top_k": 1}}"# + "\n")
        let second = live.nextLine(timeout: 30)
        XCTAssertTrue(second?.hasPrefix("[{\"score\": ") ?? false, second ?? "none")
        let end = live.finish()
        XCTAssertEqual(end.status, 0, end.stderr)
    }

    func testAFailingFirstLineOfAStreamAnswersAnErrorLineWhenTheSecondArrives() throws {
        let lines = #"{"inputs": "no mask here"}"# + "\n" + Self.request + "\n"
        let run = try predict(.bytes(Data(lines.utf8)))
        XCTAssertEqual(run.status, 1, run.stderr)
        let out = run.stdout.split(separator: "\n")
        XCTAssertEqual(out.count, 2, run.stdout)
        XCTAssertTrue(out.first?.hasPrefix(#"{"error": "line 1: no <mask> token"#) ?? false, run.stdout)
        XCTAssertEqual(run.stderr, "Error: 1 of 2 requests failed; see their {\"error\": ...} lines\n")
    }

    func testOverlongLineAnswersItsOwnErrorAndTheOthersAreAnswered() throws {
        let long = #"{"inputs": ""# + String(repeating: "x", count: 2 << 20) + #" <mask>"}"#
        let lines = [Self.request, long, Self.request].joined(separator: "\n") + "\n"
        let run = try predict(.bytes(Data(lines.utf8)))
        XCTAssertEqual(run.status, 1, run.stderr)
        let out = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(out.count, 3, String(run.stdout.prefix(500)))
        XCTAssertTrue(out[0].hasPrefix("[{\"score\": "), out[0])
        XCTAssertTrue(out[1].hasPrefix(#"{"error": "line 2: the line is \#(long.utf8.count) bytes long, more than the 1 MiB"#), out[1])
        XCTAssertLessThan(out[1].count, 400)
        XCTAssertTrue(out[2].hasPrefix("[{\"score\": "), out[2])
    }

    func testAHugeLineIsSkippedWithoutKeepingItInMemory() throws {
        // 64 MiB without a newline between two requests: skipped as it streams past, not gathered.
        var input = Data((Self.request + "\n").utf8)
        input.append(Data(repeating: UInt8(ascii: "x"), count: 64 << 20))
        input.append(Data(("\n" + Self.request + "\n").utf8))
        let run = try runMaskscope(["predict", "--model", Self.tiny], input: .bytes(input), watchMemory: true)
        XCTAssertEqual(run.status, 1, run.stderr)
        let out = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(out.count, 3, String(run.stdout.prefix(500)))
        XCTAssertTrue(out[1].hasPrefix(#"{"error": "line 2: the line is 67108864 bytes long"#), out[1])
        let peak = try XCTUnwrap(run.peakKiB)
        XCTAssertGreaterThan(peak, 0)
        XCTAssertLessThan(peak, 150 * 1024, "peak RSS in KiB: the line was kept in memory")
    }

    func testInvalidUTF8AndCRLFAreHandledPerLine() throws {
        var input = Data((Self.request + "\r\n").utf8)
        input.append(Data(#"{"inputs": "Paris "#.utf8) + [0xFF] + Data(#" <mask>"}"#.utf8))
        input.append(Data(("\r\n" + Self.request + "\r\n").utf8))
        let run = try predict(.bytes(input))
        XCTAssertEqual(run.status, 1, run.stderr)
        let out = run.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(out.count, 3, run.stdout)
        XCTAssertTrue(out[0].hasPrefix("[{\"score\": "), out[0])
        XCTAssertEqual(out[1], #"{"error": "line 2: not UTF-8 text (byte 0xFF at byte 19 of the line); send the requests as UTF-8"}"#)
        XCTAssertEqual(out[2], out[0], "the CR is not part of the request")
    }

    func testAPrettyPrintedRequestIsStillOneRequest() throws {
        let pretty = """
            {
              "inputs": {
                "input_string": ["Paris is the <mask> of France.", "Today is a <mask> day!"]
              },
              "parameters": {"top_k": 2}
            }

            """
        let run = try predict(.bytes(Data(pretty.utf8)))
        XCTAssertEqual(run.status, 0, run.stderr)
        let answer = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[[String: Any]]], run.stdout)
        XCTAssertEqual(answer.map(\.count), [2, 2])
        XCTAssertEqual(run.stdout.filter { $0 == "\n" }.count, 1)
    }

    func testASingleFailingRequestIsAnErrorOnStandardError() throws {
        let run = try predict(.bytes(Data((#"{"inputs": "no mask here"}"# + "\n").utf8)))
        assertOneLineError(run, contains: ["no <mask> token"])
        XCTAssertEqual(run.stdout, "")
    }

    func testAWholeDocumentOverItsLimitIsAClearError() throws {
        let text = "\"" + String(repeating: "word ", count: 200) + "\""
        let document = "{\n\"inputs\": [" + Array(repeating: text, count: 17 << 10).joined(separator: ", ") + "]\n}\n"
        XCTAssertGreaterThan(document.utf8.count, 16 << 20)
        let run = try predict(.bytes(Data(document.utf8)))
        assertOneLineError(run, contains: ["standard input holds more than 16 MiB", "JSON Lines"])
    }

    func testInputThatIsAFIFOIsRead() throws {
        let fifo = try scratch().appendingPathComponent("request").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: fifo) else { return }
            try? handle.write(contentsOf: Data((Self.request + "\n").utf8))
            try? handle.close()
        }
        writer.start()
        let run = try runMaskscope(["predict", "--model", Self.tiny, "--input", fifo], timeout: 60)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("[{\"score\": "), run.stdout)
    }

    func testInputThatIsADirectoryIsAClearError() throws {
        let folder = try scratch()
        let run = try runMaskscope(["predict", "--model", Self.tiny, "--input", folder.path])
        assertOneLineError(run, contains: ["\(folder.path): a directory, not a request file"])
        XCTAssertFalse(run.stderr.contains("NSCocoaErrorDomain"), run.stderr)
    }

    func testClosedStandardOutputIsAClearErrorNotACrash() throws {
        let run = try runMaskscope(["predict", "--model", Self.tiny, "A <mask>."], input: .bytes(Data()), closeStandardOutput: true)
        assertOneLineError(run, contains: ["cannot write to standard output"])
    }
}
