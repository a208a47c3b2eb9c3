import Foundation

/// The state of one pull: the commit fixed by the first answer, and the files placed so far. For each file the
/// plan (`HubDownloader.pull`) names: a HEAD on the resolve URL for the commit, the ETag and the size; the blob
/// locked, downloaded unless present (`BlobDownload.swift`), and linked into the snapshot (`HubCacheLayout.swift`).
struct PullJob {
    let downloader: HubDownloader
    let repoID: String
    let revision: String
    var commit: String?
    var files: [PulledFile] = []
    var absent: [String] = []

    init(downloader: HubDownloader, repoID: String, revision: String) {
        self.downloader = downloader
        self.repoID = repoID
        self.revision = revision
    }

    var endpoint: HubEndpoint { downloader.endpoint }
    var folder: URL { downloader.cache.folder(for: repoID) }

    /// Places one file in the snapshot; nil when an optional file is absent (404).
    mutating func fetch(_ file: String, required: Bool) throws -> URL? {
        // After the first answer, ask for the commit itself so every file comes from the same one.
        let url = endpoint.resolveURL(repoID: repoID, revision: commit ?? revision, file: file)
        let head = try metadata(url)
        if head.status == 404 {
            if required { throw PullError.fileNotFound(repo: repoID, file: file, url: url.absoluteString) }
            absent.append(file)
            downloader.progress?.note("\(file): not in \(repoID) (optional, skipped)")
            return nil
        }
        guard let fileCommit = head.header("x-repo-commit"), HubDownloader.isSafeName(fileCommit) else {
            throw PullError.badResponse(url: url.absoluteString, detail: "no X-Repo-Commit header")
        }
        if let commit, commit != fileCommit {
            throw PullError.badResponse(url: url.absoluteString, detail: "answered for commit \(fileCommit), not \(commit)")
        }
        commit = fileCommit
        guard let rawETag = head.header("x-linked-etag") ?? head.header("etag") else {
            throw PullError.badResponse(url: url.absoluteString, detail: "no ETag header")
        }
        let etag = HubDownloader.normalizeETag(rawETag)
        guard HubDownloader.isSafeName(etag) else {
            throw PullError.badResponse(url: url.absoluteString, detail: "ETag \(rawETag) cannot name a blob")
        }
        let isRedirect = (300..<400).contains(head.status)
        let sizeText = head.header("x-linked-size") ?? (isRedirect ? nil : head.header("content-length"))
        let expected = sizeText.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        var source = head.url
        if isRedirect {
            guard let location = head.header("location"), let target = URL(string: location, relativeTo: head.url)?.absoluteURL else {
                throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
            }
            source = target
        }

        let blob = try blobURL(etag: etag)
        // One writer per blob, across processes, with the lock file huggingface_hub uses, so that two pulls
        // (or a pull and transformers) never append to the same .incomplete file.
        let lock = try lockBlob(etag: etag) {
            downloader.progress?.note("\(file): another download of it is running; waiting for it to finish")
        }
        defer { lock.release() }
        let outcome: PulledFileOutcome
        let size: Int64
        if let existing = fileSize(blob), expected == nil || existing == expected {
            outcome = .alreadyPresent
            size = existing
            downloader.progress?.finished(file: file, bytes: existing, outcome: .alreadyPresent)
        } else {
            (outcome, size) = try download(file: file, from: source, to: blob, expected: expected, etag: etag)
        }
        let link = try linkSnapshot(file: file, commit: fileCommit, etag: etag)
        files.append(PulledFile(name: file, bytes: size, outcome: outcome))
        return link
    }

    /// HEAD on a resolve URL, following relative redirects only (a renamed repository), as huggingface_hub does;
    /// an absolute redirect (to the CDN) is where the hub's own headers are.
    func metadata(_ start: URL) throws -> HTTPHead {
        var url = start
        for _ in 0..<10 {
            let head: HTTPHead
            do {
                head = try downloader.client.send(method: "HEAD", url: url, headers: authorization(for: url))
            } catch let error as TransportError {
                if error.isUnreachable { throw PullError.offline(endpoint: endpoint.base.absoluteString, detail: error.detail) }
                throw PullError.network(url: url.absoluteString, detail: error.detail)
            }
            switch head.status {
            case 200..<300:
                return head
            case 300..<400:
                guard let location = head.header("location") else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "redirect without a Location")
                }
                if URL(string: location)?.host != nil { return head }
                guard let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                    throw PullError.badResponse(url: url.absoluteString, detail: "bad Location \(location)")
                }
                url = next
            case 404:
                return head
            case 401, 403:
                throw PullError.unauthorized(repo: repoID, url: url.absoluteString, status: head.status, tokenSource: endpoint.tokenSource)
            default:
                throw PullError.httpStatus(url: url.absoluteString, status: head.status)
            }
        }
        throw PullError.tooManyRedirects(url: start.absoluteString)
    }

    func authorization(for url: URL) -> [String: String] {
        guard let token = endpoint.token, endpoint.sendsToken(to: url) else { return [:] }
        return ["Authorization": "Bearer \(token)"]
    }
}
