import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The transfer of one blob: resumed with a Range request after an interruption, restarted when the server
/// ignores the range, then checked (size, and the SHA-256 or git blob id its ETag names) before it is renamed
/// to its final name, so nothing half-written or corrupt has one.
extension PullJob {
    /// Streams a file into `<blob>.incomplete` (resuming what an earlier run left), checks it, then renames it.
    func download(file: String, from start: URL, to blob: URL, expected: Int64?, etag: String) throws -> (PulledFileOutcome, Int64) {
        let partial = blob.appendingPathExtension("incomplete")
        let partialPath = partial.path
        var offset = fileSize(partial) ?? 0
        if let expected, offset > expected {
            try? FileManager.default.removeItem(at: partial)
            offset = 0
        }
        if fileSize(partial) == nil, !FileManager.default.createFile(atPath: partialPath, contents: nil) {
            throw PullError.writeFailed(path: partialPath, detail: "cannot create the file")
        }
        let resumedAt = offset
        let progress = downloader.progress
        progress?.started(file: file, total: expected, resumedAt: resumedAt)
        var url = start
        var restarted = false
        var hops = 0
        while true {
            hops += 1
            if hops > 10 { throw PullError.tooManyRedirects(url: start.absoluteString) }
            guard let handle = FileHandle(forWritingAtPath: partialPath) else {
                throw PullError.writeFailed(path: partialPath, detail: "cannot open the file")
            }
            defer { try? handle.close() }
            var headers = authorization(for: url)
            let from = offset
            if from > 0 { headers["Range"] = "bytes=\(from)-" }
            var written = from
            let requestURL = url
            let head: HTTPHead
            do {
                head = try downloader.client.send(method: "GET", url: url, headers: headers, response: { head in
                    switch head.status {
                    case 200:
                        // The server ignored the range: start over.
                        if from > 0 {
                            try handle.truncate(atOffset: 0)
                            written = 0
                            progress?.note("\(file): the server does not resume; downloading from the start")
                        }
                    case 206:
                        guard let range = head.header("content-range"), let first = Self.contentRangeStart(range), first == from else {
                            throw PullError.badResponse(url: requestURL.absoluteString,
                                                        detail: "asked for bytes from \(from), got Content-Range \(head.header("content-range") ?? "none")")
                        }
                    default:
                        return
                    }
                    try handle.seek(toOffset: UInt64(written))
                }, body: { data in
                    do { try handle.write(contentsOf: data) } catch {
                        throw PullError.writeFailed(path: partialPath, detail: error.localizedDescription)
                    }
                    written += Int64(data.count)
                    progress?.advanced(file: file, done: written, total: expected)
                })
            } catch let error as TransportError {
                if error.isUnreachable && written == 0 { throw PullError.offline(endpoint: url.host ?? url.absoluteString, detail: error.detail) }
                throw PullError.interrupted(file: file, received: written, partial: partialPath, detail: error.detail)
            }
            switch head.status {
            case 200, 206:
                break
            case 300..<400:
                guard let location = head.header("location"), let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
                }
                url = next
                continue
            case 416 where !restarted:
                // Nothing left to send from `offset`: either the part is already whole, or it is wrong; check below
                // when the size matches, else start over once.
                if let expected, offset == expected { break }
                try handle.truncate(atOffset: 0)
                offset = 0
                restarted = true
                continue
            case 401, 403:
                throw PullError.unauthorized(repo: repoID, url: url.absoluteString, status: head.status, tokenSource: endpoint.tokenSource)
            case 404:
                throw PullError.fileNotFound(repo: repoID, file: file, url: url.absoluteString)
            default:
                throw PullError.httpStatus(url: url.absoluteString, status: head.status)
            }
            break
        }
        let actual = fileSize(partial) ?? 0
        if let expected, actual != expected {
            if actual < expected {
                throw PullError.interrupted(file: file, received: actual, partial: partialPath, detail: "the server closed the transfer early")
            }
            try? FileManager.default.removeItem(at: partial)
            throw PullError.sizeMismatch(file: file, url: start.absoluteString, expected: expected, actual: actual)
        }
        // An LFS file's ETag is its SHA-256; a file kept in git has its git blob id (a SHA-1) instead.
        let lfs = HubDownloader.isSHA256(etag), git = HubDownloader.isGitBlobID(etag)
        if lfs || git {
            let digest: String
            do { digest = try lfs ? SHA256.hexDigest(ofFile: partial) : SHA1.gitBlobID(ofFile: partial) } catch {
                throw PullError.writeFailed(path: partialPath, detail: "cannot read it back: \(error.localizedDescription)")
            }
            guard digest == etag else {
                try? FileManager.default.removeItem(at: partial)
                throw PullError.checksumMismatch(file: file, url: start.absoluteString, expected: etag, actual: digest)
            }
        }
        guard rename(partialPath, blob.path) == 0 else {
            throw PullError.writeFailed(path: blob.path, detail: String(cString: strerror(errno)))
        }
        let outcome: PulledFileOutcome = resumedAt > 0 ? .resumed : .downloaded
        progress?.finished(file: file, bytes: actual, outcome: outcome)
        return (outcome, actual)
    }

    /// "bytes 100-199/200" -> 100.
    static func contentRangeStart(_ header: String) -> Int64? {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ")
        guard parts.count == 2, parts[0].lowercased() == "bytes", let dash = parts[1].firstIndex(of: "-") else { return nil }
        return Int64(parts[1][..<dash])
    }
}
