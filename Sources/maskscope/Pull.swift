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
            Fetches config.json, vocab.json, merges.txt, the tokenizer files and model.safetensors into
            HF_HUB_CACHE (else HF_HOME/hub, else ~/.cache/huggingface/hub) in the hub's own layout, so
            transformers' from_pretrained uses the same files. HF_ENDPOINT overrides the hub address; the
            token in HF_TOKEN, else the one `huggingface-cli login` saved (HF_TOKEN_PATH, HF_HOME/token,
            ~/.cache/huggingface/token), is sent to the hub. An interrupted pull resumes where it stopped
            when run again; large files are checked against the SHA-256 the hub publishes, small ones
            against their git blob id. Each file is written under huggingface_hub's lock, so a second pull
            of the same file waits.
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
        let progress = TerminalProgress(interactive: isatty(STDERR_FILENO) == 1)
        let downloader = HubDownloader(cache: cache, endpoint: endpoint, progress: progress)
        for name in names {
            let repoID = KnownModels.find(name)?.repoID ?? name
            progress.say("\(name): pulling \(repoID) from \(endpoint.base.absoluteString) into \(cache.root.path)")
            let report = try downloader.pull(repoID: repoID, revision: revision)
            let total = report.files.reduce(Int64(0)) { $0 + $1.bytes }
            progress.say("\(name): \(report.files.count) files, \(formatBytes(total)), commit \(report.commit)")
            emit("\(name)\t\(report.snapshot.path)")
        }
        if names.count == 1, let name = names.first { progress.say("use it with: maskscope --model \(name)") }
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
        FileHandle.standardError.write(Data((line + "\n").utf8))
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
            FileHandle.standardError.write(Data(("\r\u{1b}[2K" + line).utf8))
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
            FileHandle.standardError.write(Data("\r\u{1b}[2K".utf8))
            barShown = false
        }
    }

    private func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 80
    }
}
