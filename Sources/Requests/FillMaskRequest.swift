import Foundation
import RoBERTa

/// A fill-mask request as the Hugging Face endpoint takes it:
/// `{"inputs": {"input_string": [...]}, "parameters": {"top_k": 2, "targets": [...]}}`;
/// `"inputs"` may also be one string or a list of strings. Parsing only checks the JSON's shape and types; what
/// the model makes of the texts (masks, length, top_k against the vocabulary) is checked when it is answered.
public struct FillMaskRequest: Equatable, Sendable {
    /// How the answer is shaped.
    public enum Shape: Equatable, Sendable {
        /// `"inputs": "text"` or `{"input_string": "text"}`: the answer is that text's result itself.
        case single
        /// A list of texts: the answer is a list with one result per text.
        case list
    }

    /// The texts with `<mask>`, in order.
    public var texts: [String]
    public var shape: Shape
    /// parameters.top_k, when given (at least 1).
    public var topK: Int?
    /// parameters.targets: the words to score instead of the whole vocabulary, when given (never empty).
    public var targets: [String]?
    /// parameters.truncation, when given.
    public var truncate: Bool?
    /// Parameter names we do not know, reported as a warning.
    public var ignoredParameters: [String]

    public init(texts: [String], shape: Shape, topK: Int? = nil, targets: [String]? = nil, truncate: Bool? = nil,
                ignoredParameters: [String] = []) {
        self.texts = texts
        self.shape = shape
        self.topK = topK
        self.targets = targets
        self.truncate = truncate
        self.ignoredParameters = ignoredParameters
    }

    /// Parses the request's JSON bytes; a `RequestError` says what is wrong and how the request should look.
    public static func parse(_ data: Data) throws -> FillMaskRequest {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw RequestError("the request is not valid JSON (\(detail(of: error)))")
        }
        return try parse(object)
    }

    /// Parses one line of JSON Lines; bytes that are not UTF-8 are an error naming the first bad byte.
    public static func parse(line bytes: [UInt8]) throws -> FillMaskRequest {
        if let bad = RequestBytes.firstInvalidUTF8(bytes) {
            throw RequestError("not UTF-8 text (byte \(hex(bad.byte)) at byte \(bad.offset + 1) of the line); send the requests as UTF-8")
        }
        return try parse(Data(bytes))
    }

    /// Parses a whole input that is one request (one document, perhaps over several lines) read from `source`
    /// (a file's path or "standard input"), whose first line is line `firstLine`; bytes that are not UTF-8 are an
    /// error naming the line and the byte within it.
    public static func parse(document bytes: [UInt8], source: String, firstLine: Int) throws -> FillMaskRequest {
        if let bad = RequestBytes.firstInvalidUTF8(bytes) {
            let before = bytes[..<bad.offset]
            let line = firstLine + before.filter { $0 == 0x0A }.count
            let column = bad.offset - (before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0) + 1
            throw RequestError("\(source) is not UTF-8 text (byte \(hex(bad.byte)) at byte \(column) of line \(line)); send the request as UTF-8")
        }
        return try parse(Data(bytes))
    }

    /// Parses a request already decoded by JSONSerialization.
    public static func parse(_ object: Any) throws -> FillMaskRequest {
        guard let dict = object as? [String: Any] else {
            throw RequestError("the request must be a JSON object with \"inputs\", e.g. {\"inputs\": {\"input_string\": [\"Paris is the <mask> of France.\"]}}")
        }
        guard let inputs = dict["inputs"] else {
            throw RequestError("the request has no \"inputs\"; expected {\"inputs\": {\"input_string\": [...]}, \"parameters\": {...}}")
        }
        var request = FillMaskRequest(texts: [], shape: .list, topK: nil, targets: nil, truncate: nil, ignoredParameters: [])
        var source = inputs
        if let wrapper = inputs as? [String: Any] {
            guard let strings = wrapper["input_string"] else {
                throw RequestError("\"inputs\" is an object without \"input_string\"; give {\"input_string\": [\"text with <mask>\"]}")
            }
            source = strings
        }
        if let text = source as? String {
            request.texts = [text]
            request.shape = .single
        } else if let list = source as? [Any] {
            request.texts = try list.enumerated().map { index, item in
                guard let text = item as? String else {
                    throw RequestError("input \(index) is \(describeJSONValue(item)), not a string; every input must be a text with <mask>")
                }
                return text
            }
            guard !request.texts.isEmpty else { throw RequestError("\"inputs\" is an empty list; give at least one text") }
        } else {
            throw RequestError("\"inputs\" must be a string, a list of strings, or {\"input_string\": [...]}")
        }
        if let parameters = dict["parameters"], !(parameters is NSNull) {
            guard let params = parameters as? [String: Any] else {
                throw RequestError("\"parameters\" must be an object such as {\"top_k\": 2}")
            }
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                switch key {
                case "top_k":
                    guard let k = JSONNumber.int(value), k >= 1 else {
                        var message = "parameters.top_k must be a whole number of at least 1 but is \(describeJSONValue(value))"
                        if let text = value as? String, let k = Int(text.trimmingCharacters(in: .whitespaces)), k >= 1 {
                            message += "; write the number without quotes: \"top_k\": \(k)"
                        }
                        // A whole number below 1, or too large for any vocabulary, is the right type with a value out
                        // of range (HTTP 422, not 400).
                        if let number = value as? NSNumber, !JSONNumber.isBool(value), number.doubleValue >= 1,
                           number.doubleValue == number.doubleValue.rounded(), JSONNumber.int(value) == nil {
                            throw RequestError("parameters.top_k is \(describeJSONValue(value)), more candidates than any vocabulary has; ask for fewer",
                                               kind: .outOfRange)
                        }
                        throw RequestError(message, kind: JSONNumber.int(value) == nil ? .malformed : .outOfRange)
                    }
                    request.topK = k
                case "targets":
                    if let one = value as? String {
                        request.targets = [one]
                    } else if let many = value as? [Any], let strings = many as? [String], !strings.isEmpty {
                        request.targets = strings
                    } else {
                        let found = (value as? [Any]).map { list in
                            list.isEmpty ? "an empty list" : "a list holding \(describeJSONValue(list.first { !($0 is String) } ?? NSNull()))"
                        } ?? describeJSONValue(value)
                        throw RequestError("parameters.targets must be a word or a non-empty list of words but is \(found)")
                    }
                case "truncation":
                    guard JSONNumber.isBool(value), let flag = value as? Bool else {
                        throw RequestError("parameters.truncation must be true or false but is \(describeJSONValue(value))")
                    }
                    request.truncate = flag
                default:
                    request.ignoredParameters.append(key)
                }
            }
        }
        return request
    }

    private static func hex(_ byte: UInt8) -> String { "0x" + String(byte, radix: 16, uppercase: true) }

    private static func detail(of error: Error) -> String {
        (error as NSError).userInfo["NSDebugDescription"] as? String ?? error.localizedDescription
    }
}

/// A request that cannot be answered, with what to do about it.
public struct RequestError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What kind of mistake it is, for a server's status code.
    public enum Kind: Equatable, Sendable {
        /// Not JSON, or a value of the wrong type or shape (HTTP 400).
        case malformed
        /// The right type, a value outside what is allowed (HTTP 422).
        case outOfRange
    }

    public let description: String
    public let kind: Kind
    public init(_ description: String, kind: Kind = .malformed) {
        self.description = description
        self.kind = kind
    }
}
