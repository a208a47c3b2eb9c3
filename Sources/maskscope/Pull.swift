import ArgumentParser
import Foundation
import ModelStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `maskscope pull NAME...`: downloads models into the Hugging Face cache, where transformers finds them too.
struct Pull: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download models from the Hugging Face hub into its cache (resumable).",
        discussion: """
            Fetches config.json, vocab.json, merges.txt, the tokenizer files and
            model.safetensors into HF_HUB_CACHE (else HF_HOME/hub, else
            ~/.cache/huggingface/hub) in the hub's own layout, so transformers'
            from_pretrained uses the same files. HF_ENDPOINT overrides the hub address;
            the token in HF_TOKEN, else the one `huggingface-cli login` saved
            (HF_TOKEN_PATH, HF_HOME/token, ~/.cache/huggingface/token), is sent to the
            hub. An interrupted pull resumes where it stopped when run again; large files
            are checked against the SHA-256 the hub publishes, small ones against their
            git blob id. Each file is written under huggingface_hub's lock, so a second
            pull of the same file waits. A transfer that receives nothing for
            HF_HUB_DOWNLOAD_TIMEOUT seconds (huggingface_hub's variable; default 60 here)
            stops with an error; running the pull again resumes it.
            """)

    @Argument(help: ArgumentHelp("roberta-base, roberta-large, distilroberta-base or ORG/NAME.", valueName: "name"))
    var names: [String]

    @Option(help: ArgumentHelp("Branch or commit to download.", valueName: "rev"))
    var revision: String = "main"

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one model, e.g. maskscope pull roberta-base") }
    }

    func run() throws {
        let cache = HubCache.locate()
        let endpoint = try HubEndpoint.fromEnvironment()
        let timeout = try Self.downloadTimeout(ProcessInfo.processInfo.environment)
        let progress = TerminalProgress(interactive: isatty(STDERR_FILENO) == 1)
        let downloader = HubDownloader(cache: cache, endpoint: endpoint, client: HTTPClient(idleTimeout: timeout), progress: progress)
        for name in names {
            let repoID = KnownModels.find(name)?.repoID ?? name
            progress.say("\(name): pulling \(repoID) from \(endpoint.base.absoluteString) into \(cache.root.path)")
            let report: PullReport
            do { report = try downloader.pull(repoID: repoID, revision: revision) } catch let error as PullError where "\(error)".contains(TransportError.timedOutReason) {
                throw CommandFailure("\(error); if the server is only slow, wait longer with HF_HUB_DOWNLOAD_TIMEOUT=SECONDS (now \(OptionBounds.shown(timeout)))")
            }
            let total = report.files.reduce(Int64(0)) { $0 + $1.bytes }
            progress.say("\(name): \(report.files.count) files, \(formatBytes(total)), commit \(report.commit)")
            emit("\(name)\t\(report.snapshot.path)")
        }
        if names.count == 1, let name = names.first { progress.say("use it with: maskscope --model \(name)") }
    }
}

extension Pull {
    static let downloadTimeoutKey = "HF_HUB_DOWNLOAD_TIMEOUT"

    /// Seconds without a byte before a transfer fails: HF_HUB_DOWNLOAD_TIMEOUT (huggingface_hub's variable), else 60.
    static func downloadTimeout(_ environment: [String: String]) throws -> TimeInterval {
        guard let raw = environment[downloadTimeoutKey], !raw.isEmpty else { return 60 }
        guard let seconds = Double(raw.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds > 0, seconds <= 86400 else {
            throw CommandFailure("\(downloadTimeoutKey) must be a number of seconds above 0 and at most 86400 (got \"\(raw)\")")
        }
        return seconds
    }
}

/// Pull progress on standard error: a redrawn bar on a terminal, plain lines otherwise.
final class TerminalProgress: PullProgress {
    let interactive: Bool
    private var started = Date()
    private var startBytes: Int64 = 0
    private var lastDraw = Date.distantPast
    private var lastQuarter = -1
    private var barShown = false

    init(interactive: Bool) { self.interactive = interactive }

    func say(_ line: String) {
        clearBar()
        _ = StandardStreams.writeAll(line + "\n", to: STDERR_FILENO)
    }

    func started(file: String, total: Int64?, resumedAt: Int64) {
        started = Date()
        startBytes = resumedAt
        lastDraw = .distantPast
        lastQuarter = -1
        let size = total.map { " (\(formatBytes($0)))" } ?? ""
        if resumedAt > 0 {
            say("\(file)\(size): resuming after \(formatBytes(resumedAt))")
        } else if !interactive {
            say("\(file)\(size): downloading")
        }
    }

    func advanced(file: String, done: Int64, total: Int64?) {
        let now = Date()
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0.2 ? Double(done - startBytes) / elapsed : 0
        if interactive {
            guard now.timeIntervalSince(lastDraw) >= 0.1 || done == total else { return }
            lastDraw = now
            let line = ProgressText.bar(file: file, done: done, total: total, bytesPerSecond: rate, width: terminalWidth())
            _ = StandardStreams.writeAll("\r\u{1b}[2K" + line, to: STDERR_FILENO)
            barShown = true
        } else if let total, total > 0 {
            let quarter = Int(Double(done) / Double(total) * 4)
            if quarter > lastQuarter, quarter < 4 {
                lastQuarter = quarter
                if quarter > 0 { say(ProgressText.bar(file: file, done: done, total: total, bytesPerSecond: rate, width: 120)) }
            }
        }
    }

    func finished(file: String, bytes: Int64, outcome: PulledFileOutcome) {
        say(ProgressText.finished(file: file, bytes: bytes, seconds: Date().timeIntervalSince(started), outcome: outcome))
    }

    func note(_ text: String) { say(text) }

    private func clearBar() {
        if barShown {
            _ = StandardStreams.writeAll("\r\u{1b}[2K", to: STDERR_FILENO)
            barShown = false
        }
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 80
    }
}
