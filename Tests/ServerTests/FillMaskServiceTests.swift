import JSONText
import Foundation
import Requests
import RoBERTa
import TestSupport
import XCTest
@testable import Server

/// The routes, limits, auth and batching of the service, called directly (no sockets): each status the issue names,
/// the seed sample's answer against transformers' dump, and concurrent requests each getting their own answer.
final class FillMaskServiceTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModel: RobertaModel = try! RobertaModel.load(directory: repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny"), threads: 1)
    static let untiedModel: RobertaModel = try! RobertaModel.load(directory: repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-untied"), threads: 1)

    static func reference() throws -> [String: Any] {
        let url = repoRoot.appendingPathComponent("Tests/Fixtures/reference/tiny.json")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    func service(_ change: (inout ServerSettings) -> Void = { _ in }) -> FillMaskService {
        var settings = ServerSettings()
        change(&settings)
        let service = FillMaskService(models: [ServedModel(name: "tiny", model: Self.tinyModel),
                                               ServedModel(name: "tiny-untied", model: Self.untiedModel)], settings: settings)
        service.start()
        return service
    }


    func json(_ reply: Reply) -> Any? { try? JSONSerialization.jsonObject(with: Data(reply.body), options: [.fragmentsAllowed]) }
    func errorMessage(_ reply: Reply) -> String { (json(reply) as? [String: Any])?["error"] as? String ?? "<no error>" }

    func testSeedSampleOnScoreAnswersAsThePipeline() async throws {
        let endpoint = try XCTUnwrap(try Self.reference()["endpoint"] as? [String: Any])
        let request = try JSONSerialization.data(withJSONObject: try XCTUnwrap(endpoint["request"]))
        let reply = await call(service(), "POST", "/score", body: String(decoding: request, as: UTF8.self))
        XCTAssertEqual(reply.status, 200, String(decoding: reply.body, as: UTF8.self))
        XCTAssertEqual(reply.headers.first { $0.0 == "Content-Type" }?.1, "application/json")
        let got = try XCTUnwrap(json(reply) as? [[[String: Any]]])
        let want = try XCTUnwrap(endpoint["response"] as? [[[String: Any]]])
        XCTAssertEqual(got.count, want.count)
        var largest = 0.0
        for (g, w) in zip(got.joined(), want.joined()) {
            XCTAssertEqual(Array(g.keys).sorted(), ["score", "sequence", "token", "token_str"])
            XCTAssertEqual(g["token"] as? Int, w["token"] as? Int)
            XCTAssertEqual(g["token_str"] as? String, w["token_str"] as? String)
            XCTAssertEqual(g["sequence"] as? String, w["sequence"] as? String)
            largest = max(largest, abs(try XCTUnwrap(g["score"] as? Double) - XCTUnwrap(w["score"] as? Double)))
        }
        print("seed sample over /score vs transformers: largest score difference \(largest)")
        XCTAssertLessThan(largest, 1e-6)
        // The bytes are predict's: Python's separators, keys in the pipeline's order.
        XCTAssertTrue(String(decoding: reply.body, as: UTF8.self).hasPrefix("[[{\"score\": "))
    }

    func testHuggingFaceRouteAndModelChoice() async throws {
        let service = service()
        let text = "Paris is the <mask> of France."
        let tied = try Self.tinyModel.fillMask(text, options: FillMaskOptions(topK: 3))
        let untied = try Self.untiedModel.fillMask(text, options: FillMaskOptions(topK: 3))
        XCTAssertNotEqual(pipelineJSON(tied).serialized(), pipelineJSON(untied).serialized(), "the two fixture models must differ for this test")
        let body = #"{"inputs": "Paris is the <mask> of France.", "parameters": {"top_k": 3}}"#
        // The first model is the default; the header, ?model= and the path choose.
        var reply = await call(service, "POST", "/score", body: body)
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), pipelineJSON(tied).serialized())
        reply = await call(service, "POST", "/score", body: body, headers: ["azureml-model-deployment": "tiny-untied"])
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), pipelineJSON(untied).serialized())
        reply = await call(service, "POST", "/score", body: body, query: ["model": "tiny-untied"])
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), pipelineJSON(untied).serialized())
        reply = await call(service, "POST", "/models/tiny-untied", body: body)
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), pipelineJSON(untied).serialized())
        reply = await call(service, "POST", "/models/tiny%2Duntied", body: body)
        XCTAssertEqual(reply.status, 200, "a percent-encoded name is decoded")
        // A list of texts answers a list; targets score only those words.
        reply = await call(service, "POST", "/models/tiny", body: #"{"inputs": ["The <mask> is red.", "I <mask> it."], "parameters": {"targets": [" o", "Sc"]}}"#)
        let lists = try XCTUnwrap(json(reply) as? [[[String: Any]]])
        XCTAssertEqual(lists.count, 2)
        XCTAssertEqual(Set(lists[0].compactMap { $0["token_str"] as? String }), [" o", "Sc"])
        // The header and ?model= naming two models: which one was meant is unclear.
        reply = await call(service, "POST", "/score", body: body, query: ["model": "tiny"], headers: ["azureml-model-deployment": "tiny-untied"])
        XCTAssertEqual(reply.status, 400)
        XCTAssertTrue(errorMessage(reply).contains("name the model once"), errorMessage(reply))
        // Unknown model: 404 naming the served ones.
        for (path, headers, query) in [("/score", ["azureml-model-deployment": "nope"], [:]), ("/score", [:], ["model": "nope"]),
                                       ("/models/nope", [:], [:])] {
            reply = await call(service, "POST", path, body: body, query: query, headers: headers)
            XCTAssertEqual(reply.status, 404)
            XCTAssertTrue(errorMessage(reply).contains("tiny, tiny-untied"), errorMessage(reply))
        }
    }

    func testRoutesMethodsAndOperationalEndpoints() async throws {
        let service = service()
        var reply = await call(service, "GET", "/nowhere")
        XCTAssertEqual(reply.status, 404)
        XCTAssertTrue(errorMessage(reply).contains("POST /score"), errorMessage(reply))
        for (method, path, allowed) in [("GET", "/score", "POST"), ("PUT", "/models/tiny", "POST"), ("POST", "/health", "GET, HEAD"),
                                        ("DELETE", "/models", "GET, HEAD"), ("POST", "/metrics", "GET, HEAD"), ("HEAD", "/score", "POST")] {
            reply = await call(service, method, path)
            XCTAssertEqual(reply.status, 405, "\(method) \(path)")
            XCTAssertEqual(reply.headers.first { $0.0 == "Allow" }?.1, allowed)
        }
        reply = await call(service, "GET", "/health")
        XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), #"{"status": "ok"}"#)
        // HEAD (load balancers' probe): GET's status and length, no body.
        reply = await call(service, "HEAD", "/health")
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.body, [])
        XCTAssertEqual(reply.headers.first { $0.0 == "Content-Length" }?.1, String(#"{"status": "ok"}"#.utf8.count))
        reply = await call(service, "GET", "/ready")
        XCTAssertEqual(reply.status, 200)
        let listed = await call(service, "GET", "/models")
        let models = try XCTUnwrap((json(listed) as? [String: Any])?["models"] as? [[String: Any]])
        XCTAssertEqual(models.map { $0["name"] as? String }, ["tiny", "tiny-untied"])
        XCTAssertEqual(models[0]["layers"] as? Int, Self.tinyModel.config.numHiddenLayers)
        XCTAssertEqual(models[0]["vocab_size"] as? Int, Self.tinyModel.config.vocabSize)
        _ = await call(service, "POST", "/score", body: #"{"inputs": "a <mask>"}"#)
        let metrics = String(decoding: await call(service, "GET", "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains(#"maskscope_http_requests_total{route="/score",status="200"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"maskscope_http_requests_total{route="/score",status="405"} 2"#), metrics)
        XCTAssertTrue(metrics.contains(#"maskscope_http_request_duration_seconds_count{route="/score"} 3"#), metrics)
        XCTAssertTrue(metrics.contains("maskscope_texts_total 1"), metrics)
        XCTAssertTrue(metrics.contains("maskscope_batch_texts_count 1"), metrics)
        XCTAssertTrue(metrics.contains("maskscope_queue_texts 0"), metrics)
        service.beginDraining()
        reply = await call(service, "GET", "/ready")
        XCTAssertEqual(reply.status, 503)
        XCTAssertEqual(reply.headers.first { $0.0 == "Retry-After" }?.1, "1")
    }

    func testOpenAPIDocumentDescribesEveryRoute() async throws {
        for key in [nil, "k"] as [String?] {
            let reply = await call(service { $0.apiKey = key }, "GET", "/openapi.json", headers: key.map { ["authorization": "Bearer \($0)"] } ?? [:])
            let document = try XCTUnwrap(json(reply) as? [String: Any])
            XCTAssertEqual(document["openapi"] as? String, "3.0.3")
            let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
            for route in Route.allCases {
                XCTAssertNotNil(paths[route.rawValue]?[route.method.lowercased()], "\(route.method) \(route.rawValue)")
            }
            let score = try XCTUnwrap(paths["/score"]?["post"] as? [String: Any])
            let responses = try XCTUnwrap(score["responses"] as? [String: Any])
            XCTAssertEqual(Set(responses.keys).isSuperset(of: ["200", "400", "404", "413", "422", "503", "504"]), true)
            XCTAssertEqual(responses["401"] != nil, key != nil)
            let components = try XCTUnwrap(document["components"] as? [String: Any])
            XCTAssertEqual(components["securitySchemes"] != nil, key != nil)
            // Every $ref points at a schema that exists.
            let schemas = try XCTUnwrap(components["schemas"] as? [String: Any])
            let text = String(decoding: reply.body, as: UTF8.self)
            for match in text.matches(of: /"#\/components\/schemas\/([A-Za-z]+)"/) {
                XCTAssertNotNil(schemas[String(match.1)], String(match.1))
            }
        }
    }

    func testLimitsAnswerTheirStatus() async throws {
        let service = service { $0.maxInputs = 3; $0.maxTopK = 10; $0.maxTokens = 12; $0.maxBodyBytes = 400; $0.maxMasks = 4 }
        let cases: [(String, Int, String)] = [
            ("not json", 400, "not valid JSON"),
            (#"{"inputs": 5}"#, 400, "\"inputs\" must be"),
            (#"{"inputs": ["a <mask>", 3]}"#, 400, "input 1 is"),
            (#"{"inputs": "a <mask>", "parameters": {"top_k": "2"}}"#, 400, "without quotes"),
            (#"{"inputs": "a <mask>", "parameters": {"top_k": 0}}"#, 422, "at least 1"),
            (#"{"inputs": "a <mask>", "parameters": {"top_k": 11}}"#, 422, "at most 10"),
            (#"{"inputs": ["a <mask>", "b <mask>", "c <mask>", "d <mask>"]}"#, 422, "more than the 3"),
            (#"{"inputs": "no mask here"}"#, 422, "has no <mask>"),
            (#"{"inputs": "one two three four five six seven eight nine ten eleven <mask>"}"#, 422, "more than the 12 allowed"),
            (#"{"inputs": "<mask> one two three four five six seven eight nine ten eleven twelve", "parameters": {"truncation": true}}"#, 200, ""),
            (#"{"inputs": "one two three four five six seven eight nine ten eleven twelve <mask>", "parameters": {"truncation": true}}"#, 422, "no <mask> token left after truncation"),
            (#"{"inputs": "short", "parameters": {"truncation": true}}"#, 422, "has no <mask> token; put"),
            (#"{"inputs": "a <mask>", "parameters": {"top_k": 99999999999999999999999}}"#, 422, "more candidates than any vocabulary"),
            (#"{"inputs": ["<mask> <mask>", "<mask> <mask> <mask>"]}"#, 422, "more than 4 <mask> tokens in all"),
            (#"{"inputs": "a <mask>", "parameters": {"targets": []}}"#, 400, "targets"),
            (String(repeating: " ", count: 401), 413, "larger than the 400 bytes"),
        ]
        for (body, status, message) in cases {
            let reply = await call(service, "POST", "/score", body: body)
            XCTAssertEqual(reply.status, status, "\(body): \(String(decoding: reply.body, as: UTF8.self))")
            if status != 200 { XCTAssertTrue(errorMessage(reply).contains(message), "\(body): \(errorMessage(reply))") }
        }
        // Unknown parameters are answered, with a Warning header.
        let reply = await call(service, "POST", "/score", body: #"{"inputs": "a <mask>", "parameters": {"temperature": 2}}"#)
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.headers.contains { $0.0 == "Warning" && $0.1.contains("temperature") })
    }

    func testAuthNeedsTheBearerKeyEverywhereButHealth() async throws {
        let service = service { $0.apiKey = "s3cret-key" }
        let body = #"{"inputs": "a <mask>"}"#
        for header in [nil, "Bearer wrong", "Bearer s3cret-ke", "Bearer s3cret-keyy", "s3cret-key", "Basic s3cret-key"] as [String?] {
            let reply = await call(service, "POST", "/score", body: body, headers: header.map { ["authorization": $0] } ?? [:])
            XCTAssertEqual(reply.status, 401, header ?? "no header")
            XCTAssertEqual(reply.headers.first { $0.0 == "WWW-Authenticate" }?.1, "Bearer")
        }
        for path in ["/models", "/ready", "/metrics", "/openapi.json"] {
            let reply = await call(service, "GET", path)
            XCTAssertEqual(reply.status, 401, path)
        }
        let health = await call(service, "GET", "/health")
        XCTAssertEqual(health.status, 200)
        for header in ["Bearer s3cret-key", "bearer s3cret-key"] {
            let reply = await call(service, "POST", "/score", body: body, headers: ["authorization": header])
            XCTAssertEqual(reply.status, 200, header)
        }
        XCTAssertTrue(BearerAuth.equalInConstantTime(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(BearerAuth.equalInConstantTime(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(BearerAuth.equalInConstantTime(Array("abc".utf8), Array("abc\0".utf8)))
        XCTAssertFalse(BearerAuth.equalInConstantTime([], Array("a".utf8)))
    }

    /// Forty requests at once, with different texts, top_k and targets, over both models: each answer is the one
    /// its request gets alone, and the queue did put several requests in one forward pass.
    func testConcurrentRequestsGetTheirOwnAnswersInBatches() async throws {
        let service = service { $0.maxWaitMilliseconds = 50; $0.maxBatch = 16 }
        let words = ["red", "house", "river", "music", "stone", "paper", "light", "green"]
        struct Case: Sendable { let body: String; let model: String; let want: String }
        var cases: [Case] = []
        for i in 0..<40 {
            let text = "The \(words[i % 8]) is <mask> near the \(words[(i / 8) % 8]) \(i)."
            let k = 1 + i % 4
            let targets = i % 5 == 0 ? [" o", "Sc", "the"] : nil
            let model = i % 3 == 0 ? "tiny-untied" : "tiny"
            let engine = model == "tiny" ? Self.tinyModel : Self.untiedModel
            let expected = pipelineJSON(try engine.fillMask(text, options: FillMaskOptions(topK: k, targets: targets))).serialized()
            var parameters: [(String, JSONValue)] = [("top_k", .int(k))]
            if let targets { parameters.append(("targets", .array(targets.map { .string($0) }))) }
            let body = JSONValue.object([("inputs", .string(text)), ("parameters", .object(parameters))]).serialized()
            cases.append(Case(body: body, model: model, want: expected))
        }
        let replies = await withTaskGroup(of: (Int, Reply).self) { group in
            for (i, c) in cases.enumerated() {
                group.addTask { (i, await call(service, "POST", "/models/\(c.model)", body: c.body)) }
            }
            var all: [Int: Reply] = [:]
            for await (i, reply) in group { all[i] = reply }
            return all
        }
        for (i, c) in cases.enumerated() {
            let reply = try XCTUnwrap(replies[i])
            XCTAssertEqual(reply.status, 200)
            XCTAssertEqual(String(decoding: reply.body, as: UTF8.self), c.want, "request \(i)")
        }
        let metrics = String(decoding: await call(service, "GET", "/metrics").body, as: UTF8.self)
        let passes = try XCTUnwrap(metrics.firstMatch(of: /maskscope_batch_requests_count (\d+)/).flatMap { Int($0.1) })
        print("40 concurrent requests answered in \(passes) forward passes")
        XCTAssertLessThan(passes, 40, "no two requests shared a forward pass:\n\(metrics)")
    }

    func testFullQueueAnswers503AndLateAnswers504() async throws {
        // The first request holds the batch open for 300 ms; the queue takes 2 texts, so the third text is refused.
        let busy = service { $0.maxQueuedInputs = 2; $0.maxWaitMilliseconds = 300; $0.maxBatch = 100 }
        let body = #"{"inputs": ["a <mask>", "b <mask>"]}"#
        async let first = call(busy, "POST", "/score", body: body)
        // Until the first request waits in the queue (not a fixed sleep: a loaded machine may take longer).
        for _ in 0..<3000 where busy.queue.depth < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        XCTAssertEqual(busy.queue.depth, 2)
        let refused = await call(busy, "POST", "/score", body: #"{"inputs": "c <mask>"}"#)
        XCTAssertEqual(refused.status, 503, errorMessage(refused))
        XCTAssertEqual(refused.headers.first { $0.0 == "Retry-After" }?.1, "1")
        let answered = await first
        XCTAssertEqual(answered.status, 200)
        // A deadline shorter than the batch's wait: 504, and the server goes on answering.
        let slow = service { $0.timeoutMilliseconds = 20; $0.maxWaitMilliseconds = 500; $0.maxBatch = 100 }
        let late = await call(slow, "POST", "/score", body: #"{"inputs": "a <mask>"}"#)
        XCTAssertEqual(late.status, 504, errorMessage(late))
        XCTAssertTrue(errorMessage(late).contains("20 ms"), errorMessage(late))
        // A request that timed out leaves the queue: it no longer counts against the limit.
        let tight = service { $0.timeoutMilliseconds = 30; $0.maxWaitMilliseconds = 400; $0.maxBatch = 100; $0.maxQueuedInputs = 2 }
        let expired = await call(tight, "POST", "/score", body: body)
        XCTAssertEqual(expired.status, 504, errorMessage(expired))
        let next = await call(tight, "POST", "/score", body: body)
        XCTAssertEqual(next.status, 504, "queued (then timed out), not refused: \(errorMessage(next))")
        let metrics = await call(tight, "GET", "/metrics")
        XCTAssertTrue(String(decoding: metrics.body, as: UTF8.self).contains("maskscope_queue_texts 0"))
    }
}

/// One request through the service, as the HTTP layer hands it over.
private func call(_ service: FillMaskService, _ method: String, _ path: String, body: String = "", query: [String: String] = [:],
                  headers: [String: String] = [:]) async -> Reply {
    await service.handle(Exchange(method: method, path: path, query: query, headers: headers, body: Array(body.utf8))).reply
}

extension FillMaskServiceTests {
    /// A copy of tiny-untied whose input embedding of one token is NaN: a text with that token cannot be answered
    /// (non-finite scores), every other text can.
    static func modelWithPoisonedToken(_ token: Int) throws -> RobertaModel {
        let source = repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-untied")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("poisoned-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: folder)
        let file = folder.appendingPathComponent("model.safetensors")
        var bytes = [UInt8](try Data(contentsOf: file))
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        let entry = try XCTUnwrap(header["roberta.embeddings.word_embeddings.weight"] as? [String: Any])
        XCTAssertEqual(entry["dtype"] as? String, "F32")
        let width = try XCTUnwrap((entry["shape"] as? [Int])?.last)
        let start = 8 + headerLength + (try XCTUnwrap((entry["data_offsets"] as? [Int])?.first)) + token * width * 4
        for i in 0..<(width * 4) { bytes[start + i] = [0x00, 0x00, 0xC0, 0x7F][i % 4] }   // quiet NaN, little-endian
        try Data(bytes).write(to: file)
        return try RobertaModel.load(directory: folder, threads: 1)
    }

    /// Two requests in one batch, one of which cannot be answered: the other gets its own answer (each request is
    /// retried alone when a packed pass fails), the failing one a 500 that names no server path.
    func testOneFailingRequestDoesNotFailItsBatch() async throws {
        let clean = try RobertaModel.load(directory: Self.repoRoot.appendingPathComponent("Tests/Fixtures/models/tiny-untied"), threads: 1)
        let good = "Paris is the <mask> of France.", bad = "zebra <mask> quartz"
        let goodIDs = Set(clean.tokenizer.encode(good).ids)
        let poison = try XCTUnwrap(clean.tokenizer.encode(bad, addSpecialTokens: false).ids.first { !goodIDs.contains($0) && $0 != clean.tokenizer.maskID })
        let model = try Self.modelWithPoisonedToken(poison)
        let service = FillMaskService(models: [ServedModel(name: "poisoned", model: model)],
                                      settings: { var s = ServerSettings(); s.maxWaitMilliseconds = 300; return s }())
        service.start()
        async let failing = call(service, "POST", "/score", body: #"{"inputs": "\#(bad)"}"#)
        async let answered = call(service, "POST", "/score", body: #"{"inputs": "\#(good)"}"#)
        let (b, g) = await (failing, answered)
        XCTAssertEqual(g.status, 200, errorMessage(g))
        XCTAssertEqual(String(decoding: g.body, as: UTF8.self), pipelineJSON(try clean.fillMask(good)).serialized(),
                       "the poisoned row is not in this text, so its answer is the clean model's")
        XCTAssertEqual(b.status, 500, String(decoding: b.body, as: UTF8.self))
        XCTAssertFalse(errorMessage(b).contains("/"), "no server path in the answer: \(errorMessage(b))")
        let metrics = String(decoding: await call(service, "GET", "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("maskscope_batch_requests_sum 2"), "both requests were in one pass first:\n\(metrics)")
    }
}
