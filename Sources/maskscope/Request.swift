import Foundation
import RoBERTa

/// A fill-mask request as the Hugging Face endpoint takes it:
/// `{"inputs": {"input_string": [...]}, "parameters": {"top_k": 2, "targets": [...]}}`;
/// `"inputs"` may also be one string or a list of strings.
struct FillMaskRequest: Equatable {
    enum Shape: Equatable {
        /// `"inputs": "text"` or `{"input_string": "text"}`: the answer is that text's result itself.
        case single
        /// A list of texts: the answer is a list with one result per text.
        case list
    }

    var texts: [String]
    var shape: Shape
    var topK: Int?
    var targets: [String]?
    var truncate: Bool?
    /// Parameter names we do not know, reported as a warning.
    var ignoredParameters: [String]

    static func parse(_ data: Data) throws -> FillMaskRequest {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw RequestError("the request is not valid JSON (\(detail(of: error)))")
        }
        return try parse(object)
    }

    static func parse(_ object: Any) throws -> FillMaskRequest {
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
                        throw RequestError(message)
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

    private static func detail(of error: Error) -> String {
        (error as NSError).userInfo["NSDebugDescription"] as? String ?? error.localizedDescription
    }
}

/// A request that cannot be answered, with what to do about it.
struct RequestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
