import Foundation

/// Why a pull stopped; every case names the URL or file and says what to do next.
public enum PullError: Error, CustomStringConvertible, Equatable {
    case offline(endpoint: String, detail: String)
    case network(url: String, detail: String)
    case interrupted(file: String, received: Int64, partial: String, detail: String)
    /// tokenSource: where the token sent came from ("HF_TOKEN" or the token file), nil when none was sent.
    case unauthorized(repo: String, url: String, status: Int, tokenSource: String?)
    case fileNotFound(repo: String, file: String, url: String)
    case noWeights(repo: String, tried: [String])
    case httpStatus(url: String, status: Int)
    case badResponse(url: String, detail: String)
    case checksumMismatch(file: String, url: String, expected: String, actual: String)
    case sizeMismatch(file: String, url: String, expected: Int64, actual: Int64)
    case tooManyRedirects(url: String)
    case writeFailed(path: String, detail: String)
    case invalidName(String)

    public var description: String {
        switch self {
        case .offline(let endpoint, let detail):
            return "cannot reach \(endpoint) (\(detail)); check the network connection (or HF_ENDPOINT, if set) and run the pull again"
        case .network(let url, let detail):
            return "request to \(url) failed (\(detail)); run the pull again"
        case .interrupted(let file, let received, let partial, let detail):
            return "download of \(file) stopped after \(formatBytes(received)) (\(detail)); the part is kept in \(partial): run the same pull again to resume"
        case .unauthorized(let repo, let url, let status, let tokenSource):
            if let tokenSource {
                return "\(url) answered \(status): the token from \(tokenSource) cannot read \(repo), or the repository does not exist; check the name and the token"
            }
            return "\(url) answered \(status): \(repo) does not exist or needs a token; check the name, or set HF_TOKEN (or log in with huggingface-cli) to a token that can read it"
        case .fileNotFound(let repo, let file, let url):
            return "\(repo) has no \(file) (\(url) answered 404); is it a RoBERTa fill-mask model?"
        case .noWeights(let repo, let tried):
            return "\(repo) has none of \(tried.joined(separator: ", ")); MaskScope needs one of them"
        case .httpStatus(let url, let status):
            return "\(url) answered HTTP \(status); try again later"
        case .badResponse(let url, let detail):
            return "\(url): unexpected answer (\(detail)); is HF_ENDPOINT a Hugging Face hub?"
        case .checksumMismatch(let file, let url, let expected, let actual):
            if expected.count == 40 {
                return "\(file) from \(url) has git blob id \(actual) but the hub's ETag says \(expected); the download was corrupted (or HF_ENDPOINT is a mirror that does not send git blob ids) and has been removed: run the pull again"
            }
            return "\(file) from \(url) has SHA-256 \(actual) but the hub says \(expected); the download was corrupted and has been removed: run the pull again"
        case .sizeMismatch(let file, let url, let expected, let actual):
            return "\(file) from \(url) is \(actual) bytes but the hub says \(expected); the download has been removed: run the pull again"
        case .tooManyRedirects(let url):
            return "\(url): too many redirects"
        case .writeFailed(let path, let detail):
            return "\(path): cannot write (\(detail)); check the free space and the permissions of the cache (HF_HUB_CACHE)"
        case .invalidName(let name):
            return "\"\(name)\" is not a model name; use roberta-base, roberta-large, distilroberta-base or ORG/NAME"
        }
    }
}
