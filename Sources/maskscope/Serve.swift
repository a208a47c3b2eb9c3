import ArgumentParser
import Foundation
import Logging
import ModelStore
import RoBERTa
import Server

/// `maskscope serve`: the fill-mask endpoint over HTTP (the Server target does the work).
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve fill-mask over HTTP: the model cards' endpoint contract and the Hugging Face Inference API's.",
        discussion: """
            Routes: POST /score (the endpoint contract: {"inputs": {"input_string": [...]},
            "parameters": {"top_k": 2}}, answered as `maskscope predict` answers it; the
            model by the azureml-model-deployment header or ?model=NAME, else the first),
            POST /models/NAME (the Hugging Face Inference API's fill-mask: {"inputs": "..."
            or [...], "parameters": {"top_k", "targets"}}), GET /health, /ready, /models,
            /metrics (Prometheus) and /openapi.json. Errors are {"error": "..."} with the
            status that fits (400 bad JSON or types, 401 key, 404 model or route, 405
            method, 413 body, 422 limits, 500 the model failed (details in the log), 503
            queue full with Retry-After, 504 deadline); HEAD works on the GET routes.
            Concurrent requests are answered together in batched forward passes. With an
            API key (--api-key-file, or the MASKSCOPE_API_KEY environment variable) every
            route but /health needs Authorization: Bearer KEY. SIGTERM or Ctrl-C stops
            taking requests, finishes those in flight and exits 0. One access-log line per
            request goes to standard error; the first line on standard output says where
            it listens.
            """)

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("A model to serve (a name as for predict, or a directory); repeat to serve several, the first is the default. Default: the first model in the cache, else pocket-teacher.", valueName: "name|dir"))
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: RobertaModel.Precision.help)
    var precision: RobertaModel.Precision = .auto

    @Option(help: ArgumentHelp("Address to listen on; anything but 127.0.0.1/localhost/::1 is reachable from other machines.", valueName: "address"))
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp("Port to listen on (0: any free port, printed at start).", valueName: "port"))
    var port = 5001

    @Option(name: .customLong("api-key-file"), help: ArgumentHelp("File holding the API key clients must send as Authorization: Bearer KEY (else MASKSCOPE_API_KEY, else no key).", valueName: "file"))
    var apiKeyFile: String?

    @Option(name: .customLong("max-body-bytes"), help: ArgumentHelp("Largest request body (413 beyond).", valueName: "bytes"))
    var maxBodyBytes = ServerSettings().maxBodyBytes

    @Option(name: .customLong("max-inputs"), help: ArgumentHelp("Most texts per request (422 beyond).", valueName: "n"))
    var maxInputs = ServerSettings().maxInputs

    @Option(name: .customLong("max-tokens"), help: ArgumentHelp("Most tokens per text, <s> and </s> included (422 beyond unless the request asks for truncation). Default: the model's limit.", valueName: "n"))
    var maxTokens: Int?

    @Option(name: .customLong("max-masks"), help: ArgumentHelp("Most <mask> tokens in one request, over all its texts (422 beyond).", valueName: "n"))
    var maxMasks = ServerSettings().maxMasks

    @Option(name: .customLong("max-top-k"), help: ArgumentHelp("Largest top_k a request may ask for (422 beyond).", valueName: "k"))
    var maxTopK = ServerSettings().maxTopK

    @Option(name: .customLong("max-batch"), help: ArgumentHelp("Most texts in one batched forward pass.", valueName: "n"))
    var maxBatch = ServerSettings().maxBatch

    @Option(name: .customLong("max-wait-ms"), help: ArgumentHelp("How long a batch's first request waits for others to join it.", valueName: "ms"))
    var maxWaitMilliseconds = ServerSettings().maxWaitMilliseconds

    @Option(name: .customLong("max-queue"), help: ArgumentHelp("Most texts waiting for the model (503 with Retry-After beyond).", valueName: "n"))
    var maxQueue = ServerSettings().maxQueuedInputs

    @Option(name: .customLong("timeout-ms"), help: ArgumentHelp("Deadline of a request from arrival to answer (504 beyond).", valueName: "ms"))
    var timeoutMilliseconds = ServerSettings().timeoutMilliseconds

    @Flag(help: "Cut texts longer than --max-tokens when a request does not say (parameters.truncation).")
    var truncate = false

    @Option(name: .customLong("log-level"), help: ArgumentHelp("Access and server log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel = "info"

    func validate() throws {
        if let threads { try OptionBounds.check(threads, 1...Int.max, option: "--threads") }
        try OptionBounds.check(port, 0...65_535, option: "--port")
        try OptionBounds.check(maxBodyBytes, 2...(1 << 30), option: "--max-body-bytes")
        try OptionBounds.check(maxInputs, 1...100_000, option: "--max-inputs")
        if let maxTokens { try OptionBounds.check(maxTokens, 3...1_000_000, option: "--max-tokens") }
        try OptionBounds.check(maxTopK, 1...Int.max, option: "--max-top-k")
        try OptionBounds.check(maxMasks, 1...1_000_000, option: "--max-masks")
        try OptionBounds.check(maxBatch, 1...100_000, option: "--max-batch")
        try OptionBounds.check(maxWaitMilliseconds, 0...10_000, option: "--max-wait-ms", unit: "milliseconds")
        try OptionBounds.check(maxQueue, 1...10_000_000, option: "--max-queue")
        try OptionBounds.check(timeoutMilliseconds, 1...3_600_000, option: "--timeout-ms", unit: "milliseconds")
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical (got \(logLevel))")
        }
        if Set(model).count != model.count { throw ValidationError("--model names the same model twice; give each once") }
    }

    func run() throws {
        var settings = ServerSettings()
        settings.host = host
        settings.port = port
        settings.apiKey = try apiKey()
        settings.maxBodyBytes = maxBodyBytes
        settings.maxInputs = maxInputs
        settings.maxTokens = maxTokens
        settings.maxTopK = maxTopK
        settings.maxMasks = maxMasks
        settings.maxBatch = maxBatch
        settings.maxWaitMilliseconds = maxWaitMilliseconds
        settings.maxQueuedInputs = maxQueue
        settings.timeoutMilliseconds = timeoutMilliseconds
        settings.truncateByDefault = truncate
        if !["127.0.0.1", "localhost", "::1"].contains(host), settings.apiKey == nil {
            warn("serving on \(host) without an API key: anyone who can reach this port can use it (give --api-key-file)")
        }

        let threads = OptionBounds.threads(threads)
        var served: [ServedModel] = []
        for requested in model.isEmpty ? [nil] : model.map(Optional.some) {
            let (loaded, name) = try openModel(requested) { [precision] in try RobertaModel.load(directory: $0.directory, threads: threads, precision: precision) }
            served.append(ServedModel(name: displayName(name), model: loaded))
        }
        let names = served.map(\.name)
        if Set(names).count != names.count {
            throw CommandFailure("two models would be served under the same name (\(names.joined(separator: ", "))); give directories with different last components")
        }

        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "maskscope.serve")
        let failure = LockedError()
        let done = DispatchSemaphore(value: 0)
        let host = host
        Task {
            do {
                try await MaskScopeServer.run(models: served, settings: settings, logger: logger) { port in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    _ = StandardStreams.writeAll("listening on http://\(shown):\(port) (models: \(names.joined(separator: ", ")))\n", to: STDOUT_FILENO)
                }
            } catch {
                failure.set(error)
            }
            done.signal()
        }
        done.wait()
        if let error = failure.value {
            if let start = error as? ServerStartError { throw CommandFailure(start.description) }
            throw CommandFailure("cannot serve on \(host):\(port): \(MessageText.line(for: error))")
        }
    }

    /// The key clients must send, from --api-key-file or MASKSCOPE_API_KEY; nil for none.
    private func apiKey() throws -> String? {
        if let apiKeyFile {
            guard let data = FileManager.default.contents(atPath: apiKeyFile) else {
                throw CommandFailure("\(apiKeyFile): cannot read the API key file; give a file that holds the key on one line")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw CommandFailure("\(apiKeyFile): the API key file is not UTF-8 text")
            }
            let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty else { throw CommandFailure("\(apiKeyFile): the API key file is empty; put the key in it") }
            guard !key.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw CommandFailure("\(apiKeyFile): the API key holds white space; a key is one word")
            }
            return key
        }
        if let key = ProcessInfo.processInfo.environment["MASKSCOPE_API_KEY"], !key.isEmpty { return key }
        return nil
    }
}

/// An error set from another task, read once it is done.
private final class LockedError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?
    func set(_ error: Error) { lock.lock(); self.error = error; lock.unlock() }
    var value: Error? { lock.lock(); defer { lock.unlock() }; return error }
}
