import Foundation

/// Errors raised while loading tokenizer files; every case names the file (or token) at fault.
public enum TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A required file does not exist.
    case missingFile(URL)
    /// A file exists but could not be read.
    case unreadableFile(URL, detail: String)
    /// A JSON file is malformed or does not have the expected shape.
    case badJSON(file: URL, detail: String)
    /// A line of merges.txt is malformed or names a token missing from the vocabulary (line is 1-based).
    case badMerges(file: URL, line: Int, detail: String)
    /// A special token required by the tokenizer has no id in the vocabulary.
    case missingSpecialToken(String)
    /// An added token was given an id outside `BPETokenizer.validIDs`.
    case invalidTokenID(token: String, id: Int)
    /// The files ask for a feature this implementation does not reproduce.
    case unsupported(file: URL, detail: String)

    /// A one-line, human-readable description naming the file and the problem.
    public var description: String {
        switch self {
        case .missingFile(let url):
            return "missing file: \(url.path)"
        case .unreadableFile(let url, let detail):
            return "cannot read \(url.path): \(detail)"
        case .badJSON(let url, let detail):
            return "bad JSON in \(url.path): \(detail)"
        case .badMerges(let url, let line, let detail):
            return "bad merges in \(url.path) line \(line): \(detail)"
        case .missingSpecialToken(let token):
            return "special token \(token) has no id in the vocabulary"
        case .invalidTokenID(let token, let id):
            return "added token \(token) has id \(id), outside \(BPETokenizer.validIDs)"
        case .unsupported(let url, let detail):
            return "unsupported setting in \(url.path): \(detail)"
        }
    }
}
