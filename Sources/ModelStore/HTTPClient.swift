import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The status line and headers of one HTTP response (header names lowercased).
public struct HTTPHead: Sendable, Equatable {
    public let status: Int
    public let headers: [String: String]
    /// The URL that answered (redirects are never followed here, so the one asked).
    public let url: URL

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A request that failed below HTTP: no connection, a dropped transfer, a timeout.
public struct TransportError: Error, Sendable, Equatable {
    public let url: URL
    /// URLError code (NSURLErrorDomain), or 0 when the failure came from writing the body.
    public let code: Int
    public let detail: String
    /// Body bytes that reached the sink before the failure.
    public let received: Int64

    /// The start of `detail` for a transfer that timed out.
    public static let timedOutReason = "timed out"

    /// What a URLError code means, for when FoundationNetworking gives no description (it gives none for a
    /// timeout, which read "error -1001").
    static func reason(code: Int, idleTimeout: TimeInterval) -> String {
        switch code {
        case NSURLErrorTimedOut:
            let seconds = idleTimeout == idleTimeout.rounded() ? String(Int(idleTimeout)) : String(idleTimeout)
            return "\(timedOutReason): no data for \(seconds) s"
        case NSURLErrorCannotFindHost, NSURLErrorDNSLookupFailed: return "the host name was not found"
        case NSURLErrorCannotConnectToHost: return "the connection was refused"
        case NSURLErrorNetworkConnectionLost: return "the connection was lost"
        case NSURLErrorNotConnectedToInternet: return "no network connection"
        case NSURLErrorSecureConnectionFailed: return "the TLS connection failed"
        case NSURLErrorServerCertificateUntrusted, NSURLErrorServerCertificateHasBadDate, NSURLErrorServerCertificateHasUnknownRoot,
             NSURLErrorServerCertificateNotYetValid: return "the server's certificate is not trusted"
        case NSURLErrorBadServerResponse: return "the server's answer could not be read"
        default: return "network error \(code)"
        }
    }

    /// True when the server could not be reached at all (DNS, refused, no network), as opposed to a cut transfer.
    public var isUnreachable: Bool {
        [NSURLErrorNotConnectedToInternet, NSURLErrorCannotFindHost, NSURLErrorCannotConnectToHost,
         NSURLErrorDNSLookupFailed, NSURLErrorInternationalRoamingOff, NSURLErrorDataNotAllowed].contains(code) && received == 0
    }
}

/// One HTTP exchange at a time over URLSession (libcurl under FoundationNetworking on Linux), blocking the caller.
///
/// Redirects are never followed automatically: the hub's first answer carries the commit and the ETag, and the
/// caller decides whether a redirect keeps the Authorization header (same host) or drops it (a CDN).
public final class HTTPClient: Sendable {
    /// Seconds without any byte before a request fails.
    public let idleTimeout: TimeInterval

    public init(idleTimeout: TimeInterval = 60) { self.idleTimeout = idleTimeout }

    /// Sends one request. `response` sees the status and headers before any body byte (an error it throws
    /// cancels the transfer); `body` is called with each piece of the body of a 2xx response (other bodies are
    /// dropped), and an error it throws cancels the transfer too. Such errors are rethrown as they are.
    public func send(method: String, url: URL, headers: [String: String],
                     response: @escaping (HTTPHead) throws -> Void = { _ in },
                     body: @escaping (Data) throws -> Void = { _ in }) throws -> HTTPHead {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = idleTimeout
        configuration.timeoutIntervalForResource = 7 * 24 * 3600
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        let delegate = TransferDelegate(url: url, onResponse: response, body: body)
        let session = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
        request.setValue("maskscope/0.1", forHTTPHeaderField: "User-Agent")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        session.dataTask(with: request).resume()
        delegate.done.wait()
        return try delegate.outcome(idleTimeout: idleTimeout)
    }
}

/// Collects one task's response and streams its body; the lock guards what the delegate queue writes.
private final class TransferDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let url: URL
    private let onResponse: (HTTPHead) throws -> Void
    private let body: (Data) throws -> Void
    private var response: HTTPURLResponse?
    private var failure: Error?
    private var sinkFailure: Error?
    private var received: Int64 = 0

    init(url: URL, onResponse: @escaping (HTTPHead) throws -> Void, body: @escaping (Data) throws -> Void) {
        self.url = url
        self.onResponse = onResponse
        self.body = body
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil) // the caller follows redirects itself
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let http = response as? HTTPURLResponse
        lock.withLock { self.response = http }
        if let http {
            do {
                try onResponse(head(of: http))
            } catch {
                lock.withLock { sinkFailure = error }
                completionHandler(.cancel)
                return
            }
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let status = lock.withLock { response?.statusCode ?? 0 }
        guard (200..<300).contains(status) else { return }
        do {
            try body(data)
            lock.withLock { received += Int64(data.count) }
        } catch {
            lock.withLock { sinkFailure = error }
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock {
            failure = error
            if response == nil { response = task.response as? HTTPURLResponse }
        }
        done.signal()
    }

    func outcome(idleTimeout: TimeInterval) throws -> HTTPHead {
        try lock.withLock {
            if let sinkFailure { throw sinkFailure }
            if let failure {
                let nsError = failure as NSError
                let underlying = (nsError.userInfo[NSUnderlyingErrorKey] as? NSError)?.userInfo[NSLocalizedDescriptionKey] as? String
                let reason = TransportError.reason(code: nsError.code, idleTimeout: idleTimeout)
                // A timeout is said with how long we waited; other failures in Foundation's words when it has any.
                let described = (nsError.userInfo[NSLocalizedDescriptionKey] as? String) ?? underlying
                let detail = nsError.code == NSURLErrorTimedOut ? reason : described ?? reason
                throw TransportError(url: url, code: nsError.code, detail: detail, received: received)
            }
            guard let response else {
                throw TransportError(url: url, code: 0, detail: "no HTTP response", received: received)
            }
            return head(of: response)
        }
    }

    func head(of response: HTTPURLResponse) -> HTTPHead {
        var headers: [String: String] = [:]
        for (key, value) in response.allHeaderFields {
            if let key = key as? String, let value = value as? String { headers[key.lowercased()] = value }
        }
        return HTTPHead(status: response.statusCode, headers: headers, url: url)
    }
}
