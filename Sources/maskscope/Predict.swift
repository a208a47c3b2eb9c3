import JSONText
import ArgumentParser
import Foundation
import Requests
import RoBERTa

/// `maskscope predict`: the fill-mask endpoint, answered as transformers' pipeline answers it.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer fill-mask requests exactly as transformers' fill-mask pipeline does.",
        discussion: """
            Reads a request from standard input (or --input FILE, or TEXT arguments):
              {"inputs": {"input_string": ["Paris is the <mask> of France."]},
               "parameters": {"top_k": 2}}
            and prints the response: one entry per input string, each a list of {"score",
            "token", "token_str", "sequence"} (a list of such lists when a text has
            several masks). "inputs" may also be one string or a list of strings. An input
            that is one JSON document (on one line or pretty-printed over several; at most
            16 MiB) is one request, and its error is one line on standard error. Otherwise
            every line is a request (JSON Lines: UTF-8, at most 1 MiB a line, CR LF line
            ends accepted), answered as soon as it is read; a line that fails answers
            {"error": "line N: ..."} (the first line's error waits for the second line,
            which shows that the input is not a single request), the other lines are still
            answered, and the exit code is non-zero at the end. --top-k and --targets
            override the request's parameters. A model of 64 MiB of matrices or more has
            its packed weight panels read from the panel cache (~/.cache/maskscope/panels;
            MASKSCOPE_PANEL_CACHE=FOLDER or =off); the first process to answer two
            requests with it writes them there and waits for that before it exits.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (default 5; at most the model's vocabulary).", valueName: "k"))
    var topK: Int?

    @Option(help: ArgumentHelp("Comma-separated words to score instead of the whole vocabulary.", valueName: "w,..."))
    var targets: String?

    @Option(help: ArgumentHelp("Read the requests from this file (or named pipe) instead of standard input.", valueName: "file"))
    var input: String?

    @Flag(help: "Cut inputs longer than the model's positions instead of failing.")
    var truncate = false

    @Argument(help: "Texts with <mask>; when given, no request is read.")
    var texts: [String] = []

    func validate() throws {
        if let topK { try OptionBounds.check(topK, 1...Int.max, option: "--top-k") }
        if let targets, splitTargets(targets).isEmpty { throw ValidationError("--targets needs at least one word") }
    }

    func run() throws {
        if !texts.isEmpty {
            let request = FillMaskRequest(texts: texts, shape: texts.count == 1 ? .single : .list)
            emit(try answer(request, model: try loadModel()).serialized())
            return
        }
        // The input is checked before the model loads, so that a wrong one fails at once.
        var source = try input.map(RequestInput.file) ?? RequestInput.standardInput()
        defer { source.finish() }
        try serve(&source, model: try loadModel())
    }

    func loadModel() throws -> RobertaModel {
        let model = try modelOptions.load().model
        if let topK { try OptionBounds.checkTopK(topK, source: "--top-k", model: model) }
        return model
    }

    /// What became of the first request of the input, which decides how an error is reported: with no second
    /// request, the input was a single request and its error ends the command (one line on standard error); with
    /// a second one, it was JSON Lines and the error is the first line's `{"error": ...}` answer.
    private enum FirstRequest {
        case answered
        case failed(Error)
        /// A line over the JSON Lines limit but within a single request's, kept until we know which it is.
        case whole([UInt8])
        case tooLong(bytes: Int)
    }

    /// Answers the requests of `input`, each as soon as it is read (see the command's discussion).
    func serve(_ input: inout RequestInput, model: RobertaModel) throws {
        var firstLine: RequestInput.Line?
        repeat { firstLine = try input.next(limit: RequestInput.documentLimit) } while firstLine?.isBlank == true
        guard let firstLine else {
            throw RequestError("\(input.name) is empty; send a request such as {\"inputs\": {\"input_string\": [\"Paris is the <mask> of France.\"]}} or pass texts as arguments")
        }
        let first: FirstRequest
        switch firstLine {
        case .tooLong(let bytes):
            first = .tooLong(bytes: bytes)
        case .text(let bytes) where RequestBytes.leaveJSONOpen(bytes):
            // The start of a pretty-printed document: the request goes on over the next lines.
            return try serveDocument(startingWith: bytes, from: &input, model: model)
        case .text(let bytes) where bytes.count > RequestInput.lineLimit:
            first = .whole(bytes)
        case .text:
            do {
                emit(try answerLine(firstLine, model: model))
                first = .answered
            } catch {
                first = .failed(error)
            }
        }
        let firstNumber = input.lineNumber
        var requests = 1, failures = 0
        while let line = try input.next(limit: RequestInput.lineLimit) {
            if line.isBlank { continue }
            if requests == 1 {
                // A second request: the first was a line of JSON Lines.
                switch first {
                case .answered: break
                case .failed(let error): failures += 1; emit(errorLine(firstNumber, error))
                case .whole(let bytes): failures += 1; emit(errorLine(firstNumber, lineTooLong(bytes.count)))
                case .tooLong(let bytes): failures += 1; emit(errorLine(firstNumber, lineTooLong(bytes)))
                }
            }
            requests += 1
            do { emit(try answerLine(line, model: model)) } catch {
                failures += 1
                emit(errorLine(input.lineNumber, error))
            }
        }
        if requests == 1 {
            switch first {
            case .answered: return
            case .failed(let error): throw error
            case .whole(let bytes): emit(try answer(try FillMaskRequest.parse(document: bytes, source: input.name, firstLine: firstNumber), model: model).serialized())
            case .tooLong(let bytes): throw documentTooLarge(input.name, detail: "\(bytes) bytes on line \(firstNumber)")
            }
            return
        }
        if failures > 0 {
            throw RequestError("\(failures) of \(requests) requests failed; see their {\"error\": ...} lines")
        }
    }

    /// Gathers a document that starts with `first` (at most `RequestInput.documentLimit` bytes) and answers it as
    /// one request; when the whole does not parse, each of its lines is taken as a request, as JSON Lines.
    private func serveDocument(startingWith first: [UInt8], from input: inout RequestInput, model: RobertaModel) throws {
        var document = first
        var lines = [(number: input.lineNumber, range: 0..<first.count)]
        while let line = try input.next(limit: max(0, RequestInput.documentLimit - document.count - 1), skipOverlong: false) {
            guard case .text(let bytes) = line else { throw documentTooLarge(input.name, detail: nil) }
            document.append(0x0A)
            lines.append((input.lineNumber, document.count..<(document.count + bytes.count)))
            document += bytes
        }
        let firstNumber = lines[0].number
        if let request = try? FillMaskRequest.parse(document: document, source: input.name, firstLine: firstNumber) {
            emit(try answer(request, model: model).serialized())
            return
        }
        let requests = lines.filter { !RequestInput.Line.text(Array(document[$0.range])).isBlank }
        if requests.count == 1 {
            // One line that does not parse: its own error.
            _ = try FillMaskRequest.parse(document: document, source: input.name, firstLine: firstNumber)
        }
        var failures = 0
        for (number, range) in requests {
            do { emit(try answerLine(.text(Array(document[range])), model: model)) } catch {
                failures += 1
                emit(errorLine(number, error))
            }
        }
        if failures > 0 {
            throw RequestError("\(failures) of \(requests.count) requests failed; see their {\"error\": ...} lines")
        }
    }

    /// The answer to one line of JSON Lines, serialized.
    private func answerLine(_ line: RequestInput.Line, model: RobertaModel) throws -> String {
        switch line {
        case .tooLong(let bytes):
            throw lineTooLong(bytes)
        case .text(let bytes):
            if bytes.count > RequestInput.lineLimit { throw lineTooLong(bytes.count) }
            return try answer(try FillMaskRequest.parse(line: bytes), model: model).serialized()
        }
    }

    private func errorLine(_ number: Int, _ error: Error) -> String {
        JSONValue.object([("error", .string("line \(number): \(MessageText.line(for: error))"))]).serialized()
    }

    private func lineTooLong(_ bytes: Int) -> RequestError {
        RequestError("the line is \(bytes) bytes long, more than the 1 MiB a request line may have; send fewer texts per line, "
                     + "or send one request of at most 16 MiB as the whole input")
    }

    private func documentTooLarge(_ name: String, detail: String?) -> RequestError {
        RequestError("\(name) holds more than 16 MiB\(detail.map { " (\($0))" } ?? ""), more than one request may have; "
                     + "send the texts as JSON Lines instead (one request per line, at most 1 MiB each)")
    }

    func answer(_ request: FillMaskRequest, model: RobertaModel) throws -> JSONValue {
        if !request.ignoredParameters.isEmpty {
            warn("ignoring unknown parameters \(request.ignoredParameters.joined(separator: ", ")) (known: top_k, targets, truncation)")
        }
        if topK == nil, let requested = request.topK {
            try OptionBounds.checkTopK(requested, source: "parameters.top_k", model: model)
        }
        let options = FillMaskOptions(
            topK: topK ?? request.topK ?? 5,
            targets: targets.map(splitTargets) ?? request.targets,
            truncate: truncate || (request.truncate ?? false))
        var results: [JSONValue] = []
        for text in request.texts {
            let result = try model.fillMask(text, options: options)
            for message in result.warnings { warn(message) }
            results.append(pipelineJSON(result))
        }
        return request.shape == .single ? results[0] : .array(results)
    }
}

/// Splits --targets on commas, keeping each word's spaces (" capital" differs from "capital").
func splitTargets(_ raw: String) -> [String] {
    raw.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
}
