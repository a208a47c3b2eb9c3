import Foundation
import TestSupport
import XCTest

/// `maskscope serve` as users start it: the real server on 127.0.0.1 and an ephemeral port, spoken to over sockets.
final class ServeProcessTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tiny = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny").path
    static let untied = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-untied").path

    /// A running `maskscope serve`, its port, and what it wrote.
    final class Server {
        let process = Process()
        let port: Int
        let output: URL
        let errors: URL

        init(_ arguments: [String], environment: [String: String] = [:]) throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            output = folder.appendingPathComponent("stdout")
            errors = folder.appendingPathComponent("stderr")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.executableURL = TestBinary.maskscope(near: Bundle(for: ServeProcessTests.self), repoRoot: ServeProcessTests.repoRoot)
            process.arguments = ["serve", "--port", "0"] + arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = try FileHandle(forWritingTo: errors)
            try process.run()
            // The first line of standard output says where it listens.
            let start = Date()
            var found: Int?
            while found == nil, Date().timeIntervalSince(start) < 60, process.isRunning {
                let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
                found = text.firstMatch(of: #/listening on http://127\.0\.0\.1:(\d+) /#).flatMap { Int($0.1) }
                if found == nil { usleep(20_000) }
            }
            guard let found else {
                process.terminate()
                throw HTTPTestError.closedEarly("no listening line; stderr: " + ((try? String(contentsOf: errors, encoding: .utf8)) ?? ""))
            }
            port = found
        }

        var standardError: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
        var standardOutput: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        /// Sends SIGTERM and waits for the exit; the exit status.
        func stop() -> Int32 {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return process.terminationStatus
        }

        deinit { if process.isRunning { process.terminate(); process.waitUntilExit() } }
    }

    func reference() throws -> [String: Any] {
        let url = Self.repoRoot.appendingPathComponent("Tests/Fixtures/reference/tiny.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// The seed sample POSTed verbatim to /score gets transformers' answer; the access log has a line for it.
    func testSeedSampleOverHTTP() throws {
        let server = try Server(["--model", Self.tiny, "--model", Self.untied])
        let endpoint = try XCTUnwrap(try reference()["endpoint"] as? [String: Any])
        let seed = #"{"inputs": {"input_string": ["Paris is the <mask> of France.", "Today is a <mask> day!"]}, "parameters": {"top_k": 2}}"#
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(seed.utf8)) as? NSDictionary, endpoint["request"] as? NSDictionary,
                       "the sample is the fixture's request")
        let answer = try HTTPTestClient.post(port: server.port, path: "/score", json: seed)
        XCTAssertEqual(answer.status, 200, answer.text)
        XCTAssertEqual(answer.headers["content-type"], "application/json")
        let got = try XCTUnwrap(answer.json as? [[[String: Any]]])
        let want = try XCTUnwrap(endpoint["response"] as? [[[String: Any]]])
        var largest = 0.0
        for (g, w) in zip(got.joined(), want.joined()) {
            XCTAssertEqual(g["token"] as? Int, w["token"] as? Int)
            XCTAssertEqual(g["token_str"] as? String, w["token_str"] as? String)
            XCTAssertEqual(g["sequence"] as? String, w["sequence"] as? String)
            largest = max(largest, abs(try XCTUnwrap(g["score"] as? Double) - XCTUnwrap(w["score"] as? Double)))
        }
        XCTAssertEqual(got.joined().count, 4)
        print("seed sample over HTTP vs transformers: largest score difference \(largest)")
        XCTAssertLessThan(largest, 1e-6)
        // The header picks the second model: a different answer.
        let other = try HTTPTestClient.post(port: server.port, path: "/score", json: seed, headers: [("azureml-model-deployment", "tiny-untied")])
        XCTAssertEqual(other.status, 200)
        XCTAssertNotEqual(other.text, answer.text)
        XCTAssertEqual(server.stop(), 0)
        XCTAssertTrue(server.standardOutput.hasPrefix("listening on http://127.0.0.1:\(server.port) (models: tiny, tiny-untied)"), server.standardOutput)
        XCTAssertTrue(server.standardError.contains("POST /score 200"), server.standardError)
    }

    /// Garbage, half requests, a body past the limit without a length: each gets an error or a closed connection,
    /// and the server goes on answering.
    func testMalformedHTTPNeverStopsTheServer() throws {
        let server = try Server(["--model", Self.tiny, "--max-body-bytes", "1000"])
        let garbage: [[UInt8]] = [
            Array("GARBAGE\r\n\r\n".utf8),
            Array("POST /score HTTP/1.1\r\nContent-Length: nope\r\n\r\n".utf8),
            Array("POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"inputs\"".utf8),
            [0x00, 0xFF, 0xFE, 0x0D, 0x0A, 0x0D, 0x0A],
            Array("GET /health HTTP/1.1\r\nX: \(String(repeating: "a", count: 100_000))\r\n\r\n".utf8),
        ]
        for raw in garbage {
            let fd = try HTTPTestClient.connect(port: server.port)
            HTTPTestClient.send(fd, raw)
            shutdown(fd, Int32(SHUT_WR))
            let reply = HTTPTestClient.readAll(fd)
            close(fd)
            if let answer = try? HTTPTestClient.parse(reply) { XCTAssertGreaterThanOrEqual(answer.status, 400, answer.text) }
        }
        // A chunked body that passes the limit: 413, without a Content-Length to refuse it by.
        var chunked = "POST /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
        for _ in 0..<10 { chunked += "c8\r\n" + String(repeating: " ", count: 200) + "\r\n" }
        chunked += "0\r\n\r\n"
        let tooLarge = try HTTPTestClient.exchange(port: server.port, raw: Array(chunked.utf8))
        XCTAssertEqual(tooLarge.status, 413, tooLarge.text)
        XCTAssertTrue(tooLarge.error?.contains("1000 bytes") == true, tooLarge.text)
        let declared = try HTTPTestClient.exchange(port: server.port, raw: Array("POST /score HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5000000\r\n\r\n".utf8))
        XCTAssertEqual(declared.status, 413)
        let badJSON = try HTTPTestClient.post(port: server.port, path: "/score", json: #"{"inputs": [}"#)
        XCTAssertEqual(badJSON.status, 400)
        XCTAssertNotNil(badJSON.error)
        let fine = try HTTPTestClient.post(port: server.port, path: "/score", json: #"{"inputs": "a <mask>"}"#)
        XCTAssertEqual(fine.status, 200, fine.text)
        XCTAssertEqual(server.stop(), 0, server.standardError)
    }

    /// 32 clients at once, each with its own sentence, each get the answer that sentence gets alone.
    func testThirtyTwoConcurrentClientsGetTheirOwnAnswers() throws {
        let server = try Server(["--model", Self.tiny])
        let texts = (0..<32).map { "Number \($0) is the <mask> of \(["France", "Spain", "Peru", "Chad"][$0 % 4])." }
        var expected: [String] = []
        for text in texts {
            let body = #"{"inputs": "\#(text)", "parameters": {"top_k": 3}}"#
            expected.append(try HTTPTestClient.post(port: server.port, path: "/models/tiny", json: body).text)
        }
        XCTAssertEqual(Set(expected).count, 32, "every sentence has its own answer")
        let answers = Collected32()
        let port = server.port
        DispatchQueue.concurrentPerform(iterations: 32 * 3) { i in
            let index = i % 32
            let body = #"{"inputs": "\#(texts[index])", "parameters": {"top_k": 3}}"#
            let answer = try? HTTPTestClient.post(port: port, path: "/models/tiny", json: body)
            answers.add(index, answer?.status ?? -1, answer?.text ?? "")
        }
        for (index, status, text) in answers.all {
            XCTAssertEqual(status, 200)
            XCTAssertEqual(text, expected[index], "client \(index)")
        }
        XCTAssertEqual(answers.all.count, 96)
        XCTAssertEqual(server.stop(), 0)
    }

    /// SIGTERM while requests are in flight: they are answered, then the server exits 0 and takes no more.
    func testSIGTERMFinishesRequestsInFlightAndExitsZero() throws {
        // A batch waits 2 s for company, so the four requests are still waiting for the model when SIGTERM arrives.
        let server = try Server(["--model", Self.tiny, "--max-wait-ms", "2000", "--max-batch", "64"])
        let group = DispatchGroup()
        let answers = Collected32()
        let port = server.port
        for i in 0..<4 {
            DispatchQueue.global().async(group: group) {
                let answer = try? HTTPTestClient.post(port: port, path: "/score", json: #"{"inputs": "Request \#(i) is <mask>."}"#)
                answers.add(i, answer?.status ?? -1, answer?.text ?? "")
            }
        }
        // SIGTERM once all four are in the queue (the gauge says so).
        let start = Date()
        while Date().timeIntervalSince(start) < 30 {
            let metrics = (try? HTTPTestClient.request(port: port, method: "GET", path: "/metrics").text) ?? ""
            if metrics.contains("maskscope_queue_texts 4") { break }
            usleep(10_000)
        }
        kill(server.process.processIdentifier, SIGTERM)
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(server.stop(), 0, server.standardError)
        XCTAssertEqual(answers.all.map(\.1), [200, 200, 200, 200], server.standardError)
        XCTAssertThrowsError(try HTTPTestClient.connect(port: server.port), "the port is closed after the exit")
    }

    func testAPIKeyFromFileOrEnvironment() throws {
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("key-\(UUID().uuidString)")
        try "file-key-123\n".write(to: keyFile, atomically: true, encoding: .utf8)
        for (arguments, environment, key) in [(["--api-key-file", keyFile.path], [:], "file-key-123"),
                                              ([], ["MASKSCOPE_API_KEY": "env-key-456"], "env-key-456")] {
            let server = try Server(["--model", Self.tiny] + arguments, environment: environment)
            let body = #"{"inputs": "a <mask>"}"#
            XCTAssertEqual(try HTTPTestClient.post(port: server.port, path: "/score", json: body).status, 401)
            XCTAssertEqual(try HTTPTestClient.post(port: server.port, path: "/score", json: body, headers: [("Authorization", "Bearer nope")]).status, 401)
            XCTAssertEqual(try HTTPTestClient.post(port: server.port, path: "/score", json: body, headers: [("Authorization", "Bearer \(key)")]).status, 200)
            XCTAssertEqual(try HTTPTestClient.request(port: server.port, method: "GET", path: "/health").status, 200)
            XCTAssertEqual(try HTTPTestClient.request(port: server.port, method: "GET", path: "/metrics").status, 401)
            XCTAssertEqual(server.stop(), 0)
        }
    }
}

/// Answers gathered from several threads.
final class Collected32: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(Int, Int, String)] = []
    func add(_ index: Int, _ status: Int, _ text: String) { lock.lock(); items.append((index, status, text)); lock.unlock() }
    var all: [(Int, Int, String)] { lock.lock(); defer { lock.unlock() }; return items.sorted { $0.0 < $1.0 } }
}

extension ServeProcessTests {
    /// A port already taken: exit 1 with a sentence saying so and what to do, not a system error code.
    func testTakenPortIsAClearError() throws {
        let server = try Server(["--model", Self.tiny])
        let second = Process()
        second.executableURL = TestBinary.maskscope(near: Bundle(for: ServeProcessTests.self), repoRoot: Self.repoRoot)
        second.arguments = ["serve", "--model", Self.tiny, "--port", String(server.port)]
        let errors = Pipe()
        second.standardError = errors
        second.standardOutput = Pipe()
        try second.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        second.waitUntilExit()
        XCTAssertEqual(second.terminationStatus, 1)
        XCTAssertTrue(text.contains("port \(server.port) on 127.0.0.1 is already taken by another program; choose another --port"), text)
        XCTAssertFalse(text.contains("errno"), text)
        XCTAssertEqual(server.stop(), 0)
    }
}

extension ServeProcessTests {
    /// Keep-alive and pipelining: a body refused by its length (413, never read) is skipped, so the next request on
    /// the same connection is parsed from its own first byte, and the answers come back in order, each its own.
    func testPipelinedRequestsAfterARefusedBodyGetTheirOwnAnswers() throws {
        let server = try Server(["--model", Self.tiny, "--max-body-bytes", "1000"])
        let big = #"{"inputs": "a <mask>"}"# + String(repeating: " ", count: 5000)
        func request(_ body: String) -> String { "POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body }
        let first = #"{"inputs": "The first <mask>."}"#, second = #"{"inputs": "The second <mask>!"}"#
        let alone = try [first, second].map { try HTTPTestClient.post(port: server.port, path: "/score", json: $0).text }
        let fd = try HTTPTestClient.connect(port: server.port)
        defer { close(fd) }
        HTTPTestClient.send(fd, Array((request(first) + request(big) + request(second)).utf8))
        var received: [UInt8] = []
        var answers: [HTTPAnswer] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while answers.count < 3 {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { break }
            received += chunk[..<n]
            answers = Self.splitAnswers(received)
        }
        XCTAssertEqual(answers.map(\.status), [200, 413, 200], String(decoding: received, as: UTF8.self))
        XCTAssertEqual(answers.first?.text, alone[0])
        XCTAssertEqual(answers.last?.text, alone[1])
        XCTAssertEqual(server.stop(), 0)
    }

    /// The complete answers (head and Content-Length bytes of body) at the start of `bytes`.
    static func splitAnswers(_ bytes: [UInt8]) -> [HTTPAnswer] {
        var answers: [HTTPAnswer] = []
        var rest = bytes[...]
        while let end = rest.indices.first(where: { rest[$0...].starts(with: [13, 10, 13, 10]) }) {
            let head = String(decoding: rest[rest.startIndex..<end], as: UTF8.self)
            let length = head.firstMatch(of: #/Content-Length: (\d+)/#).flatMap { Int($0.1) } ?? 0
            let bodyStart = end + 4
            guard rest.endIndex - bodyStart >= length, let answer = try? HTTPTestClient.parse(Array(rest[rest.startIndex..<(bodyStart + length)])) else { break }
            answers.append(answer)
            rest = rest[(bodyStart + length)...]
        }
        return answers
    }
}
