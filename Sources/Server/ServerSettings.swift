import Foundation

/// What `maskscope serve` was asked for: where it listens, its limits and its key. Every limit is a flag with the
/// default below; a request beyond one gets a JSON error with the status the limit names.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 5001
    /// Largest request body, in bytes (413 beyond).
    public var maxBodyBytes = 1 << 20
    /// Most texts in one request (422 beyond).
    public var maxInputs = 64
    /// Most tokens in one text, <s> and </s> included; nil: the model's own limit. Longer texts are 422 unless the
    /// request asks for `"truncation": true` (or the server runs with `truncateByDefault`).
    public var maxTokens: Int? = nil
    /// Most `<mask>` tokens in one request, over all its texts (422 beyond): each answers a list of candidates whose
    /// sequences repeat the text, so masks, not bytes, bound the work and the answer's size.
    public var maxMasks = 256
    /// Largest top_k (422 beyond; never more than the vocabulary).
    public var maxTopK = 100
    /// Most texts in one batched forward pass.
    public var maxBatch = 32
    /// How long the first request of a batch waits for others, in milliseconds. 0: no wait, a batch takes what
    /// arrived while the one before ran (measured on the pocket model: the same throughput at 8 and 32 clients as
    /// a 2 ms wait, half the latency for one client).
    public var maxWaitMilliseconds = 0.0
    /// Most texts waiting for the model (beyond: 503 with Retry-After).
    public var maxQueuedInputs = 512
    /// Longest a request may take from arrival to answer, in milliseconds (504 beyond).
    public var timeoutMilliseconds = 30_000.0
    /// When set, every route but /health needs `Authorization: Bearer <key>`.
    public var apiKey: String? = nil
    /// Cut over-long texts instead of refusing them when a request does not say.
    public var truncateByDefault = false

    public init() {}
}

/// An answer that is not a result: the status and the message of its `{"error": ...}` body.
public struct APIError: Error, Sendable, Equatable {
    public let status: Int
    public let message: String
    /// Extra response headers (Retry-After, Allow, WWW-Authenticate).
    public let headers: [(String, String)]

    public init(_ status: Int, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public static func == (a: APIError, b: APIError) -> Bool {
        a.status == b.status && a.message == b.message && a.headers.map { "\($0.0)=\($0.1)" } == b.headers.map { "\($0.0)=\($0.1)" }
    }
}

/// Bearer-key checks in constant time: the comparison reads every byte of the longer of the two whatever they hold,
/// so the time it takes says nothing about how much of a guess was right.
public enum BearerAuth {
    /// True when `header` is exactly `Bearer <key>` (the scheme's case ignored, as RFC 7235 says).
    public static func accepts(_ header: String?, key: String) -> Bool {
        guard let header else { return false }
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        let hasScheme = bytes.count >= scheme.count
            && zip(bytes.prefix(scheme.count), scheme).allSatisfy { ($0 | 0x20) == $1 || ($0 == 0x20 && $1 == 0x20) }
        let presented = hasScheme ? Array(bytes.dropFirst(scheme.count)) : []
        return equalInConstantTime(presented, Array(key.utf8)) && hasScheme
    }

    /// Whether two byte strings are equal, looking at every byte of the longer one.
    public static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt64(a.count ^ b.count)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }
}
