import Foundation
import XCTest
@testable import maskscope
#if canImport(Glibc)
import Glibc
#endif

/// What the command line says when something goes wrong: what happened in words (not a Foundation error code),
/// long inputs shortened with their length, and never a NaN score.
final class ErrorMessageTests: XCTestCase {
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny")
    static let sentence = "Paris is the <mask> of France."

    /// A copy of the tiny model in a fresh folder, removed when the test ends.
    func tinyCopy() throws -> URL {
        let folder = try scratch().appendingPathComponent("tiny")
        try FileManager.default.copyItem(at: Self.tiny, to: folder)
        return folder
    }

    // MARK: system errors in words

    func testTokenizerFileThatIsAFIFOIsNamedAsSuch() throws {
        let model = try tinyCopy()
        let vocab = model.appendingPathComponent("vocab.json")
        try FileManager.default.removeItem(at: vocab)
        XCTAssertEqual(mkfifo(vocab.path, 0o600), 0)
        let run = try runMaskscope(["tokenize", "--model", model.path, "hi"], timeout: 30)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertEqual(run.stderr, "Error: \(vocab.path): a named pipe (FIFO), not a regular file; MaskScope maps model files from disk, "
                       + "so put the file itself there (a symlink to it is fine)\n")
    }

    func testTokenizerFileThatIsADirectoryIsNamedAsSuch() throws {
        let model = try tinyCopy()
        let vocab = model.appendingPathComponent("vocab.json")
        try FileManager.default.removeItem(at: vocab)
        try FileManager.default.createDirectory(at: vocab, withIntermediateDirectories: false)
        let run = try runMaskscope(["tokenize", "--model", model.path, "hi"], timeout: 30)
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.hasPrefix("Error: \(vocab.path): a directory, not a regular file"), run.stderr)
    }

    func testFoundationErrorsReadAsWhatHappened() {
        let directory = NSError(domain: NSCocoaErrorDomain, code: 256, userInfo: [
            NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EISDIR))])
        XCTAssertEqual(SystemErrorText.describe(directory), "it is a directory")
        XCTAssertEqual(SystemErrorText.describe(NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))), "no space left on the device")
        XCTAssertEqual(SystemErrorText.describe(NSError(domain: NSCocoaErrorDomain, code: 256)), "the system gave no reason (Foundation file error 256)")
        XCTAssertEqual(SystemErrorText.describe(errno: EACCES), "permission denied")
        // Text another layer made from such an error is translated the same way.
        XCTAssertEqual(SystemErrorText.cleaned("cannot read /x: The operation could not be completed. (NSCocoaErrorDomain error 256.)"),
                       "cannot read /x: the system gave no reason (Foundation file error 256)")
        XCTAssertEqual(SystemErrorText.cleaned(#"cannot read /x: Error Domain=NSCocoaErrorDomain Code=256 "(null)"UserInfo={NSFilePath=/x, NSUnderlyingError=Error Domain=NSPOSIXErrorDomain Code=21 "Is a directory"}"#),
                       "cannot read /x: it is a directory")
    }

    func testPullTimeoutSaysItTimedOut() throws {
        // A server that accepts connections and never answers.
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(server, 0)
        defer { close(server) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(server, $0, length) == 0 && listen(server, 8) == 0 && getsockname(server, $0, &length) == 0 }
        }
        XCTAssertTrue(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let cache = try scratch()
        let started = Date()
        let run = try runMaskscope(["pull", "roberta-base"], environment: [
            "HF_ENDPOINT": "http://127.0.0.1:\(port)", "HF_HUB_CACHE": cache.path, "HF_HUB_DOWNLOAD_TIMEOUT": "1"], timeout: 90)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30, "HF_HUB_DOWNLOAD_TIMEOUT was not used")
        XCTAssertEqual(run.status, 1, run.stderr)
        let error = try XCTUnwrap(run.stderr.split(separator: "\n").last.map(String.init))
        XCTAssertTrue(error.contains("timed out: no data for 1 s"), error)
        XCTAssertTrue(error.contains("HF_HUB_DOWNLOAD_TIMEOUT"), error)
        XCTAssertFalse(error.contains("-1001"), error)
    }

    func testBadDownloadTimeoutIsAnError() throws {
        for value in ["abc", "0", "inf"] {
            let run = try runMaskscope(["pull", "roberta-base"], environment: ["HF_HUB_DOWNLOAD_TIMEOUT": value, "HF_ENDPOINT": "http://127.0.0.1:9"])
            XCTAssertEqual(run.status, 1, run.stderr)
            XCTAssertEqual(run.stderr, "Error: HF_HUB_DOWNLOAD_TIMEOUT must be a number of seconds above 0 and at most 86400 (got \"\(value)\")\n")
        }
    }

    // MARK: long inputs

    func testLongInputsAreShortenedInMessagesWithTheirLength() throws {
        // (a 5 MB word costs the tokenizer seconds in the target case; 200,000 characters show the same)
        let big = String(repeating: "x", count: 200_000)
        let requests = [
            #"{"inputs": "A <mask>.", "parameters": {"top_k": ""# + big + #""}}"#,
            #"{"inputs": "A <mask>.", "parameters": {""# + big + #"": 1}}"#,
            #"{"inputs": "A <mask>.", "parameters": {"targets": [""# + big + #""]}}"#,
        ]
        for request in requests {
            let run = try runMaskscope(["predict", "--model", Self.tiny.path], stdin: request)
            XCTAssertLessThan(run.stderr.utf8.count, 1000, String(run.stderr.prefix(300)))
            XCTAssertTrue(run.stderr.contains("(200000 characters)"), String(run.stderr.prefix(300)))
        }
        let model = try runMaskscope(["predict", "--model", String(repeating: "m", count: 100_000), Self.sentence])
        XCTAssertEqual(model.status, 1)
        XCTAssertLessThan(model.stderr.utf8.count, 2000, String(model.stderr.prefix(300)))
        XCTAssertTrue(model.stderr.contains("(100000 characters)"), String(model.stderr.prefix(300)))
    }

    func testShortenedKeepsShortWordsAndCutsLongOnes() {
        XCTAssertEqual(MessageText.shortened("a short message"), "a short message")
        let long = String(repeating: "y", count: 300)
        XCTAssertEqual(MessageText.shortened("token `\(long)` missing"),
                       "token `" + String(repeating: "y", count: 60) + "…` (300 characters) missing")
    }

    // MARK: non-finite scores

    func testNaNWeightIsAOneLineErrorAndNeverANaNScore() throws {
        let model = try tinyCopy()
        let weights = model.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: weights)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as? [String: Any])
        let bias = try XCTUnwrap(header["lm_head.bias"] as? [String: Any])
        XCTAssertEqual(bias["dtype"] as? String, "F32")
        let begin = try XCTUnwrap((bias["data_offsets"] as? [Int])?.first)
        for element in 0..<4 {  // quiet NaN, little-endian float32
            bytes.replaceSubrange((8 + headerLength + begin + 4 * element)..<(8 + headerLength + begin + 4 * element + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        }
        try bytes.write(to: weights)

        let single = try runMaskscope(["predict", "--model", model.path, Self.sentence])
        XCTAssertEqual(single.status, 1, single.stderr)
        XCTAssertEqual(single.stdout, "")
        XCTAssertEqual(single.stderr.split(separator: "\n").count, 1, single.stderr)
        XCTAssertTrue(single.stderr.contains("not finite numbers: tensor lm_head.bias"), single.stderr)

        let lines = try runMaskscope(["predict", "--model", model.path], stdin: #"{"inputs": "A <mask>."}"# + "\n" + #"{"inputs": "B <mask>."}"# + "\n")
        XCTAssertNotEqual(lines.status, 0)
        XCTAssertFalse(lines.stdout.contains("\": NaN"), lines.stdout)
        XCTAssertEqual(lines.stdout.split(separator: "\n").filter { $0.hasPrefix(#"{"error": "line "#) }.count, 2, lines.stdout)

        let inspect = try runMaskscope(["inspect", "--model", model.path, "--json", Self.sentence])
        XCTAssertEqual(inspect.status, 1, inspect.stderr)
        XCTAssertFalse(inspect.stdout.contains("\": NaN"), inspect.stdout)
    }
}
