import Foundation

/// Where to download from: HF_ENDPOINT (default https://huggingface.co) and the token, as huggingface_hub
/// finds them (HF_TOKEN, else the file `huggingface-cli login` writes).
public struct HubEndpoint: Sendable, Equatable {
    public let base: URL
    public let token: String?
    /// Where the token came from ("HF_TOKEN", or the token file's path), for error messages.
    public let tokenSource: String?

    public init(base: URL, token: String?, tokenSource: String? = nil) {
        self.base = base
        self.token = token
        self.tokenSource = token == nil ? nil : (tokenSource ?? "HF_TOKEN")
    }

    public static let defaultBase = "https://huggingface.co"

    /// HF_ENDPOINT, and HF_TOKEN (or its older name HUGGING_FACE_HUB_TOKEN), else the token file:
    /// HF_TOKEN_PATH, else HF_HOME/token, else $XDG_CACHE_HOME/huggingface/token, else
    /// ~/.cache/huggingface/token (where `huggingface-cli login` saves it).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HubEndpoint {
        var text = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultBase
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw PullError.badResponse(url: text, detail: "HF_ENDPOINT is not an http(s) URL")
        }
        let token = [environment["HF_TOKEN"], environment["HUGGING_FACE_HUB_TOKEN"]].compactMap { $0 }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.first { !$0.isEmpty }
        if let token { return HubEndpoint(base: url, token: token, tokenSource: "HF_TOKEN") }
        let file = tokenFile(environment)
        if let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) {
            let saved = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !saved.isEmpty { return HubEndpoint(base: url, token: saved, tokenSource: file) }
        }
        return HubEndpoint(base: url, token: nil)
    }

    /// The token file huggingface_hub reads when HF_TOKEN is not set.
    static func tokenFile(_ environment: [String: String]) -> String {
        environmentPath("HF_TOKEN_PATH", environment) ?? huggingFaceHome(environment) + "/token"
    }

    /// `{base}/{repo}/resolve/{revision}/{file}`.
    public func resolveURL(repoID: String, revision: String, file: String) -> URL {
        var url = base
        let parts: [String] = repoID.split(separator: "/").map(String.init) + ["resolve", revision] + file.split(separator: "/").map(String.init)
        for part in parts { url.appendPathComponent(part) }
        return url
    }

    /// The token goes to the hub only, never to the CDN a download is redirected to.
    func sendsToken(to url: URL) -> Bool {
        url.host?.lowercased() == base.host?.lowercased() && url.port == base.port && url.scheme == base.scheme
    }
}
