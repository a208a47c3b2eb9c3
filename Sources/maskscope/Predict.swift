import ArgumentParser
import Foundation
import RoBERTa

/// `maskscope predict`: the fill-mask endpoint, answered as transformers' pipeline answers it.
struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer fill-mask requests exactly as transformers' fill-mask pipeline does.",
        discussion: """
            Reads a request from standard input (or --input FILE, or TEXT arguments):
              {"inputs": {"input_string": ["Paris is the <mask> of France."]}, "parameters": {"top_k": 2}}
            and prints the response: one entry per input string, each a list of
            {"score", "token", "token_str", "sequence"} (a list of such lists when a text has several masks).
            "inputs" may also be one string or a list of strings. Input with one JSON request per line
            (JSON Lines) is answered with one line per request; a request that fails answers {"error": ...}.
            --top-k and --targets override the request's parameters.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (default 5).", valueName: "k"))
    var topK: Int?

    @Option(help: ArgumentHelp("Comma-separated words to score instead of the whole vocabulary.", valueName: "w,..."))
    var targets: String?

    @Option(help: ArgumentHelp("Read the request from this file instead of standard input.", valueName: "file"))
    var input: String?

    @Flag(help: "Cut inputs longer than the model's positions instead of failing.")
    var truncate = false

    @Argument(help: "Texts with <mask>; when given, no request is read.")
    var texts: [String] = []

    func validate() throws {
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1 (got \(topK))") }
        if let targets, splitTargets(targets).isEmpty { throw ValidationError("--targets needs at least one word") }
    }

    func run() throws {
        let requests = try readRequests()
        let model = try modelOptions.load().model
        if requests.count == 1, case .success(let request) = requests[0].parsed, !requests[0].isLine {
            emit(try answer(request, model: model).serialized())
            return
        }
        // JSON Lines: one answer per request; failures answer {"error": ...} and make the exit code non-zero.
        var failures = 0
        for item in requests {
            do {
                let request = try item.parsed.get()
                emit(try answer(request, model: model).serialized())
            } catch {
                failures += 1
                emit(JSONValue.object([("error", .string("line \(item.lineNumber): \(error)"))]).serialized())
            }
        }
        if failures > 0 {
            throw RequestError("\(failures) of \(requests.count) requests failed; see their {\"error\": ...} lines")
        }
    }

    struct Item {
        var parsed: Result<FillMaskRequest, Error>
        var lineNumber: Int
        var isLine: Bool
    }

    func readRequests() throws -> [Item] {
        if !texts.isEmpty {
            let request = FillMaskRequest(texts: texts, shape: texts.count == 1 ? .single : .list, topK: nil, targets: nil,
                                          truncate: nil, ignoredParameters: [])
            return [Item(parsed: .success(request), lineNumber: 1, isLine: false)]
        }
        let data: Data
        if let input {
            guard FileManager.default.fileExists(atPath: input) else {
                throw RequestError("\(input): request file not found")
            }
            do { data = try Data(contentsOf: URL(fileURLWithPath: input)) } catch {
                throw RequestError("\(input): cannot read the request file (\(error.localizedDescription))")
            }
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        let source = input ?? "standard input"
        guard let text = String(data: data, encoding: .utf8) else { throw RequestError("\(source) is not UTF-8 text") }
        guard !text.allSatisfy(\.isWhitespace) else {
            throw RequestError("\(source) is empty; send a request such as {\"inputs\": {\"input_string\": [\"Paris is the <mask> of France.\"]}} or pass texts as arguments")
        }
        // One JSON document (pretty-printed or not) is one request; otherwise it is JSON Lines.
        if let whole = try? FillMaskRequest.parse(data) {
            return [Item(parsed: .success(whole), lineNumber: 1, isLine: false)]
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let nonEmpty = lines.enumerated().filter { !$0.element.allSatisfy(\.isWhitespace) }
        if nonEmpty.count == 1 {
            // A single line that does not parse: report the parse error itself.
            _ = try FillMaskRequest.parse(data)
        }
        return nonEmpty.map { index, line in
            Item(parsed: Result { try FillMaskRequest.parse(Data(line.utf8)) }, lineNumber: index + 1, isLine: true)
        }
    }

    func answer(_ request: FillMaskRequest, model: RobertaModel) throws -> JSONValue {
        if !request.ignoredParameters.isEmpty {
            warn("ignoring unknown parameters \(request.ignoredParameters.joined(separator: ", ")) (known: top_k, targets, truncation)")
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

/// The pipeline's output for one text: a list of candidates, or a list of lists when there are several masks.
func pipelineJSON(_ result: FillMaskResult) -> JSONValue {
    let lists = result.masks.map { mask in
        JSONValue.array(mask.candidates.map { c in
            .object([("score", .float(c.score)), ("token", .int(c.token)),
                     ("token_str", .string(c.tokenStr)), ("sequence", .string(c.sequence))])
        })
    }
    return lists.count == 1 ? lists[0] : .array(lists)
}
