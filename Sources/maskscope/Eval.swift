import JSONText
import ArgumentParser
import Dispatch
import Foundation
import Requests
import RoBERTa
import Scoring

/// `maskscope eval`: the fill-mask evaluation of one model, or of a teacher and its student, over a corpus.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate one or two models' fill-mask over a corpus: accuracy, likelihood, agreement.",
        discussion: """
            CORPUS is a text file with one document per line (- for standard input),
            JSON Lines (.jsonl, or --field: the text's field, default "text") or CSV
            (.csv, or --column: the text's column in the header row, default "text"). A
            document longer than the models take is cut into windows at token
            boundaries.

            --mode one (default): 15% of the word-initial tokens (at least one per
            sentence), each masked on its own; all: the same tokens masked at once; pll:
            every token masked in turn (the pseudo-log-likelihood). The tokens are drawn
            with --seed from each sentence's place in the corpus, so shards and limits
            do not change them.

            Per model: top-1 and top-5 accuracy of the masked tokens, their mean
            log-likelihood (natural log) and exp(-mean), which in mode pll is the
            corpus's pseudo-perplexity.

            With two models sharing a vocabulary (the first is the teacher): top-1
            agreement, mean KL(teacher || student) and Jensen-Shannon divergence over
            the whole vocabulary, top-5 overlap, Spearman's rho over the union of the
            top-5 lists, and the sentences where they part most. Ctrl-C stops and prints
            what was measured so far.

            --shard I/N evaluates documents I, I+N, ... (I from 1); `eval --merge A.json
            B.json ...` sums the --json reports of the shards into the report of the
            whole corpus.
            """)

    @Option(name: .customLong("model"), help: ArgumentHelp("A model name or directory, as for predict; give it twice to compare a teacher (first) with a student.", valueName: "name|dir"))
    var models: [String] = []

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: RobertaModel.Precision.help)
    var precision: RobertaModel.Precision = .auto

    @Option(help: ArgumentHelp("How tokens are masked: one, all or pll.", valueName: "mode"))
    var mode: String = "one"

    @Option(help: ArgumentHelp("The share of word-initial tokens masked in modes one and all (0 < f <= 1).", valueName: "f"))
    var fraction: Double = 0.15

    @Option(help: ArgumentHelp("Seed of the choice of masked tokens.", valueName: "n"))
    var seed: Int = 0

    @Option(help: ArgumentHelp("Only the first n documents.", valueName: "n"))
    var limit: Int?

    @Option(help: ArgumentHelp("Only shard I of N (documents I, I+N, ...; I from 1).", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("The text's field in JSON Lines (default \"text\").", valueName: "name"))
    var field: String?

    @Option(help: ArgumentHelp("The text's column in CSV (default \"text\").", valueName: "name"))
    var column: String?

    @Option(name: .customLong("batch-tokens"), help: ArgumentHelp("Tokens per packed forward pass, 16 to 65536.", valueName: "n"))
    var batchTokens: Int = RobertaModel.defaultBatchTokens

    @Option(help: ArgumentHelp("Sentences where the student parts most, to list (0 to 100).", valueName: "n"))
    var worst: Int = 5

    @Flag(help: "Print one JSON object (mergeable with --merge).")
    var json = false

    @Flag(help: "Print CSV: one row per model.")
    var csv = false

    @Option(help: ArgumentHelp("Write one JSON line per sentence to this file: positions, each model's log-probabilities, ranks, top 5, and the agreement.", valueName: "file"))
    var details: String?

    @Flag(name: .customLong("no-progress"), help: "No progress bar (there is none unless standard error is a terminal).")
    var noProgress = false

    @Flag(help: "Merge the --json reports given as arguments instead of evaluating.")
    var merge = false

    @Argument(help: "The corpus file (or, with --merge, the reports).")
    var files: [String] = []

    func validate() throws {
        if json && csv { throw ValidationError("--json and --csv cannot both be given; choose one") }
        if merge {
            if files.isEmpty { throw ValidationError("--merge needs the --json reports to merge as arguments") }
            return
        }
        guard files.count == 1 else {
            throw ValidationError(files.isEmpty ? "give the corpus file to evaluate (or - for standard input)"
                                  : "give one corpus file (got \(files.count)); to merge reports, add --merge")
        }
        guard (1...2).contains(models.count) else { throw ValidationError("give --model once, or twice to compare a teacher and a student (got \(models.count))") }
        guard EvalMode(rawValue: mode) != nil else { throw ValidationError("--mode must be one, all or pll (got \(mode))") }
        guard fraction.isFinite, fraction > 0, fraction <= 1 else {
            throw ValidationError("--fraction must be above 0 and at most 1 (got \(OptionBounds.shown(fraction)))")
        }
        if let limit { try OptionBounds.check(limit, 1...Int.max, option: "--limit") }
        try OptionBounds.check(seed, 0...Int.max, option: "--seed")
        if let threads { try OptionBounds.check(threads, 1...Int.max, option: "--threads") }
        try OptionBounds.check(batchTokens, 16...65536, option: "--batch-tokens")
        try OptionBounds.check(worst, 0...100, option: "--worst")
        if field != nil && column != nil { throw ValidationError("--field is for JSON Lines and --column for CSV; give one") }
        _ = try parsedShard()
    }

    func parsedShard() throws -> (index: Int, count: Int) {
        guard let shard else { return (1, 1) }
        let parts = shard.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw ValidationError("--shard must be I/N with 1 <= I <= N, e.g. 1/4 (got \(shard))")
        }
        return (i, n)
    }

    func run() throws {
        if merge {
            let parts = try files.map(Self.readReport)
            try output(try EvalReport.merge(parts), corpus: nil, units: nil)
            return
        }
        let corpus = try readCorpus(files[0])
        let (shardIndex, shardCount) = try parsedShard()
        let documents = corpus.select(limit: limit, shard: shardIndex, of: shardCount)
        guard !documents.isEmpty else {
            throw CommandFailure("\(files[0] == "-" ? "standard input" : files[0]) holds no document to evaluate\(corpus.documents.isEmpty ? "" : " in shard \(shardIndex)/\(shardCount)"); give a corpus with text")
        }
        let threads = OptionBounds.threads(self.threads)
        let loaded = try models.map { name in
            try openModel(name) { [precision] in try RobertaModel.load(directory: $0.directory, threads: threads, precision: precision) }
        }
        var options = EvalOptions()
        options.mode = EvalMode(rawValue: mode)!
        options.seed = UInt64(seed)
        options.fraction = fraction
        options.batchTokens = batchTokens
        options.worst = worst
        let names = loaded.map(\.name)
        let together = loaded.count == 1 || Evaluator.sharesVocabulary(loaded[0].model, loaded[1].model)
        if !together {
            warn("\(names[0]) and \(names[1]) do not share a vocabulary (\(loaded[0].model.config.vocabSize) and \(loaded[1].model.config.vocabSize) entries): each is scored with its own tokenizer, and their agreement is left out")
        }
        var report = EvalReport(options: options, models: names, compared: together && loaded.count == 2)
        report.documents = documents.count
        if shardCount > 1 { report.shards = ["\(shardIndex)/\(shardCount)"] }

        let detailsFile = try details.map(DetailsWriter.init(path:))
        let cancellation = Cancellation()
        let interrupt = InterruptWatch(cancellation: cancellation)
        defer { interrupt.stop() }
        let runs: [Evaluator] = together
            ? [Evaluator(models: loaded.map(\.model), names: names, options: options)]
            : loaded.map { Evaluator(models: [$0.model], names: [$0.name], options: options) }
        var unitCount = 0
        for (r, evaluator) in runs.enumerated() {
            let units = evaluator.units(documents)
            unitCount = max(unitCount, units.count)
            var part = EvalReport(options: options, models: evaluator.names, compared: evaluator.models.count == 2)
            let bar = ProgressBar(total: units.count, label: runs.count > 1 ? evaluator.names[0] : nil, enabled: !noProgress)
            try evaluator.run(units, into: &part, cancellation: cancellation, progress: { bar.update($0) }) { result in
                detailsFile?.write(result, mode: options.mode, names: evaluator.names)
            }
            bar.finish()
            if runs.count == 1 {
                part.documents = report.documents
                part.shards = report.shards
                report = part
            } else {
                report.models[r] = part.models[0]
                report.skippedUnits += part.skippedUnits
                report.seconds += part.seconds
                report.complete = report.complete && part.complete
            }
            if !part.complete { report.complete = false; break }
        }
        try detailsFile?.close()
        try output(report, corpus: files[0], units: unitCount)
        if !report.complete {
            warn("interrupted: the figures cover the sentences evaluated before Ctrl-C")
            throw ExitCode(130)
        }
    }

    /// The most a corpus may hold (it is read whole, to know the total for the progress bar and the shards).
    static let corpusLimit = 2 << 30

    func readCorpus(_ path: String) throws -> Corpus {
        let data = try WholeInput.read(path, what: "corpus", limit: Self.corpusLimit,
                                       hint: "give a text, JSON Lines or CSV file, or - with the corpus on standard input")
        let lower = path.lowercased()
        let format: Corpus.Format
        if let field { format = .jsonLines(field: field) }
        else if let column { format = .csv(column: column) }
        else if lower.hasSuffix(".jsonl") || lower.hasSuffix(".ndjson") { format = .jsonLines(field: "text") }
        else if lower.hasSuffix(".csv") { format = .csv(column: "text") }
        else { format = .lines }
        return try Corpus(data: data, format: format, path: path == "-" ? "standard input" : path)
    }

    static func readReport(_ path: String) throws -> EvalReport {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read the report \(path); give the files written by eval --json")
        }
        do { return try JSONDecoder().decode(EvalReport.self, from: data) } catch {
            throw CommandFailure("\(path) is not an eval --json report (\(MessageText.line(for: error))); give the files written by eval --json")
        }
    }

    func output(_ report: EvalReport, corpus: String?, units: Int?) throws {
        if json { emit(EvalOutput.json(report, corpus: corpus).serialized()) }
        else if csv { emit(EvalOutput.csv(report)) }
        else { emit(EvalOutput.table(report, corpus: corpus, units: units)) }
    }
}

/// Ctrl-C during an evaluation: the first stops it between batches (the results so far are printed), a second
/// ends the process as usual.
final class InterruptWatch {
    private let source: DispatchSourceSignal

    init(cancellation: Cancellation) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if cancellation.isCancelled {
                signal(SIGINT, SIG_DFL)
                raise(SIGINT)
            }
            cancellation.cancel()
            _ = StandardStreams.writeAll("\nstopping after the current batch (Ctrl-C again to quit at once)\n", to: STDERR_FILENO)
        }
        source.resume()
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}

/// One line on standard error, redrawn: a bar, sentences done, rate and time left. Only on a terminal.
final class ProgressBar {
    let total: Int
    let label: String?
    let enabled: Bool
    let start = Date()
    private var lastDraw = Date.distantPast

    init(total: Int, label: String?, enabled: Bool) {
        self.total = total
        self.label = label
        self.enabled = enabled && isatty(STDERR_FILENO) == 1 && total > 0
    }

    func update(_ done: Int) {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done == total else { return }
        lastDraw = Date()
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let left = rate > 0 ? Double(total - done) / rate : 0
        let width = 24, filled = total > 0 ? width * done / total : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = "\r\(label.map { $0 + " " } ?? "")[\(bar)] \(done)/\(total) sentences  \(String(format: "%.1f", rate))/s  ETA \(Self.clock(left))  "
        _ = StandardStreams.writeAll(text, to: STDERR_FILENO)
    }

    func finish() {
        guard enabled else { return }
        _ = StandardStreams.writeAll("\r\u{1B}[K", to: STDERR_FILENO)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// --details: one JSON line per evaluated sentence.
final class DetailsWriter {
    let path: String
    private let handle: FileHandle

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CommandFailure("cannot create the details file \(path) (\(SystemErrorText.describe(errno: errno))); give a path in a folder you can write to")
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure("cannot open the details file \(path) for writing; give a path in a folder you can write to")
        }
        self.handle = handle
    }

    /// The first write that failed; reported by `close`.
    private var failure: Error?

    func write(_ result: UnitResult, mode: EvalMode, names: [String]) {
        guard failure == nil else { return }
        var fields: [(String, JSONValue)] = [
            ("document", .int(result.unit.document)), ("window", .int(result.unit.window)),
            ("text", .string(result.unit.text)), ("ids", .array(result.unit.ids.map(JSONValue.int))),
            ("mode", .string(mode.rawValue)), ("positions", .array(result.positions.map(JSONValue.int))),
            ("models", .array(zip(names, result.models).map { name, m in
                .object([("model", .string(name)), ("log_probs", .array(m.logProbs.map(JSONValue.number))),
                         ("ranks", .array(m.ranks.map(JSONValue.int))),
                         ("top5", .array(m.top5.map { .array($0.map(JSONValue.int)) }))])
            })),
        ]
        if let agreement = result.agreement {
            fields.append(("agreement", .object([
                ("kl", .array(agreement.map { .number($0.kl) })), ("js", .array(agreement.map { .number($0.js) })),
                ("top1_agree", .array(agreement.map { .bool($0.top1Agree) })),
                ("overlap", .array(agreement.map { .number($0.overlap) })),
                ("spearman", .array(agreement.map { $0.spearman.map(JSONValue.number) ?? .null })),
            ])))
        }
        do { try handle.write(contentsOf: Data((JSONValue.object(fields).serialized() + "\n").utf8)) } catch { failure = error }
    }

    func close() throws {
        try? handle.close()
        if let failure {
            throw CommandFailure("writing the details file \(path) failed (\(MessageText.line(for: failure))); the figures below are complete, the file is not")
        }
    }
}
