import JSONText
import Foundation
import Logging
import Requests
import RoBERTa

/// A model the server answers for, under the name clients use.
public struct ServedModel: Sendable {
    public let name: String
    public let model: RobertaModel
    public init(name: String, model: RobertaModel) {
        self.name = name
        self.model = model
    }
}

/// One HTTP request as the service sees it: no sockets, so routes and limits are tested without a server.
struct Exchange: Sendable {
    var method: String
    var path: String
    var query: [String: String] = [:]
    /// Header names in lower case.
    var headers: [String: String] = [:]
    var body: [UInt8] = []
}

/// One answer: status, headers, body.
struct Reply: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    static func json(_ value: JSONValue, status: Int = 200, headers: [(String, String)] = []) -> Reply {
        Reply(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(value.serialized().utf8))
    }

    static func error(_ error: APIError) -> Reply {
        json(.object([("error", .string(error.message))]), status: error.status, headers: error.headers)
    }
}

/// The routes: the endpoint contract of the model cards, the Hugging Face Inference API's fill-mask, and the
/// operational ones. Paths and methods are matched here, not by Hummingbird's router, so that a known path with the
/// wrong method is a 405 naming the allowed one (the router would say 404).
enum Route: String, CaseIterable, Sendable {
    case score = "/score"
    case modelsList = "/models"
    case model = "/models/{name}"
    case health = "/health"
    case ready = "/ready"
    case metrics = "/metrics"
    case openAPI = "/openapi.json"

    var method: String {
        switch self {
        case .score, .model: "POST"
        default: "GET"
        }
    }

    /// The route of `path`, with the model name of /models/{name} (percent-decoded; it may hold a slash, as in
    /// FacebookAI/roberta-base).
    static func match(_ path: String) -> (Route, String?)? {
        if let route = Route(rawValue: path), route != .model { return (route, nil) }
        let prefix = "/models/"
        if path.hasPrefix(prefix), path.count > prefix.count {
            let raw = String(path.dropFirst(prefix.count))
            return (.model, raw.removingPercentEncoding ?? raw)
        }
        return nil
    }
}

/// What the server does with a request, apart from HTTP framing: routes, auth, limits, batching, answers.
final class FillMaskService: Sendable {
    let models: [ServedModel]
    let settings: ServerSettings
    let metrics: ServerMetrics
    let queue: BatchQueue
    private let draining = LockedFlag()

    let logger: Logger

    init(models: [ServedModel], settings: ServerSettings, logger: Logger = Logger(label: "maskscope.serve")) {
        precondition(!models.isEmpty)
        self.models = models
        self.settings = settings
        self.logger = logger
        let metrics = ServerMetrics(routes: Route.allCases.map(\.rawValue))
        self.metrics = metrics
        queue = BatchQueue(
            models: models.map(\.model), maxBatch: settings.maxBatch, maxWaitMilliseconds: settings.maxWaitMilliseconds,
            maxQueued: settings.maxQueuedInputs,
            observer: .init(queueDepth: { metrics.setQueueDepth($0) }, batchRan: { metrics.batchRan(texts: $0, requests: $1) }))
    }

    func start() { queue.start() }

    /// From now on /ready answers 503: the server is finishing what it has and takes nothing new.
    func beginDraining() { draining.set() }

    /// The reply to `exchange`, and the route it took (for the access log); the request is counted in the metrics.
    func handle(_ exchange: Exchange, arrived: DispatchTime = .now()) async -> (route: String, reply: Reply, seconds: Double) {
        let (route, reply) = await answer(exchange, arrived: arrived)
        return (route, reply, record(route: route, reply: reply, arrived: arrived))
    }

    /// Counts an answered request by route and status, with its latency since `arrived` (returned, for the access log).
    @discardableResult
    func record(route: String, reply: Reply, arrived: DispatchTime) -> Double {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - arrived.uptimeNanoseconds) / 1e9
        metrics.record(route: route, status: reply.status, seconds: seconds)
        return seconds
    }

    private func answer(_ exchange: Exchange, arrived: DispatchTime) async -> (route: String, reply: Reply) {
        guard let (route, name) = Route.match(exchange.path) else {
            let known = Route.allCases.map { "\($0.method) \($0.rawValue)" }.joined(separator: ", ")
            return ("other", .error(APIError(404, "no route \(exchange.path); the routes are \(known)")))
        }
        let allowed = route.method == "GET" ? "GET, HEAD" : route.method
        if exchange.method == "HEAD", route.method == "GET" {
            // A GET without its body (load balancers probe with HEAD); Content-Length says what GET would send.
            var get = exchange
            get.method = "GET"
            var (name, reply) = await answer(get, arrived: arrived)
            reply.headers.append(("Content-Length", String(reply.body.count)))
            reply.body = []
            return (name, reply)
        }
        guard exchange.method == route.method else {
            return (route.rawValue, .error(APIError(
                405, "\(route.rawValue) takes \(allowed), not \(exchange.method)", headers: [("Allow", allowed)])))
        }
        if route != .health, let key = settings.apiKey, !BearerAuth.accepts(exchange.headers["authorization"], key: key) {
            let message = exchange.headers["authorization"] == nil
                ? "this server needs an API key: send the header Authorization: Bearer <key>"
                : "the API key in the Authorization header is not this server's (send Authorization: Bearer <key>)"
            return (route.rawValue, .error(APIError(401, message, headers: [("WWW-Authenticate", "Bearer")])))
        }
        do {
            switch route {
            case .health:
                return (route.rawValue, .json(.object([("status", .string("ok"))])))
            case .ready:
                if draining.isSet {
                    return (route.rawValue, .error(APIError(503, "shutting down: finishing the requests in flight", headers: [("Retry-After", "1")])))
                }
                return (route.rawValue, .json(.object([("status", .string("ready")), ("models", .array(models.map { .string($0.name) }))])))
            case .modelsList:
                return (route.rawValue, .json(.object([("models", .array(models.map(Self.describe)))])))
            case .metrics:
                return (route.rawValue, Reply(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                              body: metrics.text()))
            case .openAPI:
                return (route.rawValue, .json(OpenAPIDocument.make(settings: settings, models: models.map(\.name))))
            case .score:
                let header = exchange.headers["azureml-model-deployment"], query = exchange.query["model"]
                if let header, let query, header != query {
                    throw APIError(400, "the azureml-model-deployment header names \"\(header)\" but ?model= names \"\(query)\"; name the model once")
                }
                return (route.rawValue, try await fillMask(exchange, model: header ?? query, arrived: arrived))
            case .model:
                return (route.rawValue, try await fillMask(exchange, model: name, arrived: arrived))
            }
        } catch let error as APIError {
            return (route.rawValue, .error(error))
        } catch {
            // The engine's words name files of this machine: they go to the log, the client gets what happened.
            logger.error("\(exchange.method) \(exchange.path): the model failed: \(error)")
            return (route.rawValue, .error(APIError(500, "the model could not answer this request (a fault on the server's side, logged there); "
                                                    + "other requests are not affected")))
        }
    }

    /// The index of the model named `name` (nil: the first, the default deployment).
    private func modelIndex(_ name: String?) throws -> Int {
        guard let name else { return 0 }
        if let index = models.firstIndex(where: { $0.name == name }) { return index }
        let served = models.map(\.name).joined(separator: ", ")
        throw APIError(404, "no model named \"\(name)\" is served here; the models are \(served) (GET /models)")
    }

    /// Answers a fill-mask request for the model named `name`.
    private func fillMask(_ exchange: Exchange, model name: String?, arrived: DispatchTime) async throws -> Reply {
        let index = try modelIndex(name)
        let model = models[index].model
        guard exchange.body.count <= settings.maxBodyBytes else { throw Self.bodyTooLarge(settings.maxBodyBytes) }
        let request: FillMaskRequest
        do { request = try FillMaskRequest.parse(Data(exchange.body)) } catch let error as RequestError {
            throw APIError(error.kind == .outOfRange ? 422 : 400, error.description)
        }
        guard request.texts.count <= settings.maxInputs else {
            throw APIError(422, "the request has \(request.texts.count) inputs, more than the \(settings.maxInputs) this server takes at once; send them in several requests")
        }
        let topKCap = min(settings.maxTopK, model.config.vocabSize)
        let topK = request.topK ?? 5
        guard topK <= topKCap else {
            throw APIError(422, "parameters.top_k is \(topK); this server gives at most \(topKCap) candidates per mask")
        }
        let truncate = request.truncate ?? settings.truncateByDefault
        let maxTokens = min(settings.maxTokens ?? model.config.maxTokens, model.config.maxTokens)
        var warnings: [String] = request.ignoredParameters.isEmpty ? [] :
            ["ignored unknown parameters \(request.ignoredParameters.joined(separator: ", ")) (known: top_k, targets, truncation)"]
        var ids: [[Int]] = []
        var masks = 0
        let mask = model.tokenizer.token(of: model.tokenizer.maskID) ?? "<mask>"
        for (i, text) in request.texts.enumerated() {
            var tokens = model.tokenizer.encode(text).ids
            let cut = tokens.count > maxTokens
            if cut {
                guard truncate else {
                    throw APIError(422, "input \(i) is \(tokens.count) tokens long, more than the \(maxTokens) allowed; shorten it or send \"parameters\": {\"truncation\": true}")
                }
                tokens = Array(tokens.prefix(maxTokens - 1)) + [model.tokenizer.eosID]
            }
            let here = tokens.reduce(0) { $0 + ($1 == model.tokenizer.maskID ? 1 : 0) }
            guard here > 0 else {
                throw APIError(422, "input \(i) has no \(mask) token\(cut ? " left after truncation" : ""); put \(mask) where a word should be predicted")
            }
            masks += here
            guard masks <= settings.maxMasks else {
                throw APIError(422, "the request has more than \(settings.maxMasks) \(mask) tokens in all (each answers a list of candidates); send fewer masks per request")
            }
            ids.append(tokens)
        }
        if let targets = request.targets {
            do { warnings += try model.targetIDs(targets).warnings } catch {
                throw APIError(422, "\(error)")
            }
        }
        let job = BatchQueue.Job(model: index, ids: ids, texts: request.texts, targets: request.targets, topK: topK)
        guard queue.submit(job) else {
            throw APIError(503, "the server is busy (\(queue.depth) texts are waiting, at most \(settings.maxQueuedInputs) may); try again shortly",
                           headers: [("Retry-After", "1")])
        }
        let timeout = settings.timeoutMilliseconds
        let remaining = max(0, timeout / 1000 - Double(DispatchTime.now().uptimeNanoseconds - arrived.uptimeNanoseconds) / 1e9)
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(remaining * 1e9))
            if !Task.isCancelled {
                queue.expire(job, with: APIError(504, "no answer within the server's \(OpenAPIDocument.shown(timeout)) ms deadline; send fewer texts or try again"))
            }
        }
        let outcome = await job.result()
        timer.cancel()
        let results = try outcome.get()
        // Counted here, by the request that got the answer (a text answered after its deadline is not).
        metrics.textsAnswered(results.count)
        let answers = results.map { pipelineJSON($0, limit: topK) }
        let body = request.shape == .single ? answers[0] : .array(answers)
        return .json(body, headers: warnings.map { ("Warning", "299 maskscope \"\(Self.headerSafe($0))\"") })
    }

    static func bodyTooLarge(_ limit: Int) -> APIError {
        APIError(413, "the request body is larger than the \(limit) bytes this server takes; send fewer or shorter texts per request")
    }

    /// A warning as a header value: printable ASCII, quotes and backslashes escaped.
    private static func headerSafe(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
            .replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    /// What GET /models says of a model.
    static func describe(_ served: ServedModel) -> JSONValue {
        let c = served.model.config
        let summary = served.model.weightsSummary
        return .object([
            ("name", .string(served.name)), ("model_type", .string(c.modelType)),
            ("layers", .int(c.numHiddenLayers)), ("heads", .int(c.numAttentionHeads)), ("hidden", .int(c.hiddenSize)),
            ("intermediate", .int(c.intermediateSize)), ("vocab_size", .int(c.vocabSize)), ("max_tokens", .int(c.maxTokens)),
            ("dtype", .string(summary.matrixDType)),
        ])
    }
}

/// A flag set once, read from any thread.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
