import Foundation

/// What is wrong with a JSON file the workbench reads (a session, a theme), said for a person: where the
/// syntax breaks (line and column) or which key has the wrong kind of value.
public enum JSONProblem {
    /// Describes an error JSONDecoder threw while decoding `data`.
    public static func describe(_ error: Error, in data: Data) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func at(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return keys.isEmpty ? "" : "at \(keys.replacingOccurrences(of: ".[", with: "[")): "
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "not valid JSON (\(syntaxError(in: data) ?? context.debugDescription))"
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            return at(context) + context.debugDescription
        case .keyNotFound(let key, let context):
            return at(context) + "the key \"\(key.stringValue)\" is missing"
        @unknown default:
            return String(describing: error)
        }
    }

    /// JSONSerialization's account of a syntax error, with its character offset turned into a line and column.
    static func syntaxError(in data: Data) -> String? {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return "the file is empty" }
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            guard var text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return nil }
            if text.hasSuffix(".") { text.removeLast() }
            guard let range = text.range(of: "character "), let offset = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
                return text
            }
            let before = data.prefix(max(0, min(offset, data.count)))
            let line = before.filter { $0 == 0x0A }.count + 1
            let column = before.count - (before.lastIndex(of: 0x0A).map { $0 - before.startIndex + 1 } ?? 0) + 1
            return "\(text), line \(line) column \(column)"
        }
    }
}
