import JSONText
import ArgumentParser
import Foundation
import Requests
import RoBERTa
#if canImport(Glibc)
import Glibc
#endif

/// `maskscope bench`: load time, fill-mask latency (median, p90) and peak memory on this machine.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure load time, fill-mask latency (median and p90), weight-product GFLOP/s and peak RSS.",
        discussion: """
            Times whole fill-mask calls (tokenize, forward pass, LM head at the masks,
            top-k, decode) after warm-up runs, for a short (~9 tokens) and a long (~40
            tokens) sentence unless --text is given, each with and without attention
            capture. Then it types the first sentence into the real workbench loop (an
            in-memory 80x24 terminal), one key every --typing-interval ms, and reports how
            long each key waited for its frame and how long the last key's answer took to
            show. For each sentence's token count it also times the encoder's weight
            products alone (6 per layer, median of --runs) and shows their GFLOP/s as a
            share of this machine's float32 FMA peak, measured on the same threads by a
            register-only FMA loop. The first answer is timed from the start of the load;
            the second on its own, since that pass packs the weight panels once, unless
            they were read packed from the panel cache (~/.cache/maskscope/panels;
            MASKSCOPE_PANEL_CACHE=FOLDER or =off): the "panels" line says which, and how
            long writing the file took when this run wrote it (bench waits for it before
            the timed runs). Scripts/bench-compare runs this, ONNX Runtime and transformers' pipeline on
            the same checkpoint side by side.
            """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: ArgumentHelp("A sentence with <mask> to time (repeatable, at most 10 times; default: a short and a long one).", valueName: "text"))
    var text: [String] = []

    @Option(help: ArgumentHelp("Timed runs per case, 1 to 1000.", valueName: "n"))
    var runs: Int = 30

    @Option(help: ArgumentHelp("Untimed runs first, 0 to 100.", valueName: "n"))
    var warmup: Int = 3

    @Option(help: ArgumentHelp("Also type the first sentence into the workbench loop, one key every ms milliseconds, and time each key to its frame (0 to 1000; 0 skips the typing).", valueName: "ms"))
    var typingInterval: Double = 50

    @Option(name: .customLong("batch-file"), help: ArgumentHelp("Sentences with <mask>, one per line, for the batch case (default: 32 built-in sentences of mixed lengths, as in Scripts/bench_batch_sentences.txt).", valueName: "file"))
    var batchFile: String?

    @Option(name: .customLong("batch-runs"), help: ArgumentHelp("Timed runs of the batch case, 0 (skip it) to 100.", valueName: "n"))
    var batchRuns: Int = 5

    @Flag(help: "Also time the inside of the model on the first sentence: the logit lens at one mask (median of --runs), and the whole head-importance grid (once).")
    var inside = false

    @Flag(help: "Print one JSON object.")
    var json = false

    static let defaultTexts = [
        "Paris is the <mask> of France.",
        "The quick brown fox, who had been running through the forest since early dawn, finally stopped near the old stone <mask> to drink some cold, clear water before the hunters arrived at noon.",
    ]

    /// Sentences for the batch case: one per line, blank lines skipped; each needs a <mask>.
    static func readBatchFile(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure("cannot read --batch-file \(path) as UTF-8 text; give a file with one sentence with <mask> per line")
        }
        let sentences = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !sentences.isEmpty else { throw CommandFailure("--batch-file \(path) holds no sentence; give one sentence with <mask> per line") }
        return sentences
    }

    func validate() throws {
        try OptionBounds.check(runs, 1...1000, option: "--runs")
        try OptionBounds.check(warmup, 0...100, option: "--warmup")
        try OptionBounds.check(batchRuns, 0...100, option: "--batch-runs")
        try OptionBounds.check(typingInterval, 0...1000, option: "--typing-interval", unit: "milliseconds")
        if text.count > 10 { throw ValidationError("--text may be given at most 10 times (got \(text.count))") }
        let typed = (text.first ?? Self.defaultTexts[0]).count
        if Double(typed) * typingInterval > 600_000 {
            throw ValidationError("typing the first sentence (\(typed) characters) one key every \(OptionBounds.shown(typingInterval)) ms "
                                  + "would take over 10 minutes; give a shorter first --text or a smaller --typing-interval")
        }
    }

    func run() throws {
        let start = monotonicSeconds()
        let (model, name) = try modelOptions.load()
        let loadSeconds = monotonicSeconds() - start
        let cacheAtLoad = model.panelCacheState
        // The panel cache file, when the pass that packs starts a thread writing it: waited for before the timed
        // runs (it would share the cores with them), and timed.
        var cacheWriteSeconds: Double?
        let texts = text.isEmpty ? Self.defaultTexts : text
        var firstAnswerSeconds: Double?
        // The second answer is the pass that packs the weight panels (RoBERTa's PackingGate), unless they were read
        // from the panel cache: timed on its own.
        var secondAnswerSeconds: Double?
        var rows: [(text: String, tokens: Int, attention: Bool, median: Double, p90: Double, min: Double)] = []
        for sentence in texts {
            let tokens = try model.inputIDs(for: sentence).count
            for attention in [false, true] {
                let options = FillMaskOptions(capture: CaptureOptions(attention: attention))
                var times: [Double] = []
                for i in 0..<(warmup + runs) {
                    let t0 = monotonicSeconds()
                    _ = try model.fillMask(sentence, options: options)
                    let elapsed = monotonicSeconds() - t0
                    if firstAnswerSeconds == nil {
                        firstAnswerSeconds = monotonicSeconds() - start
                    } else if secondAnswerSeconds == nil {
                        secondAnswerSeconds = elapsed
                        if case .writing = cacheAtLoad {
                            let t0 = monotonicSeconds()
                            model.waitForPanelCache()
                            cacheWriteSeconds = monotonicSeconds() - t0
                        }
                    }
                    if i >= warmup { times.append(elapsed) }
                }
                times.sort()
                rows.append((sentence, tokens, attention, percentile(times, 0.5), percentile(times, 0.9), times[0]))
            }
        }
        // The weight products alone at each case's token count, against this machine's FMA peak (issue #14).
        var productRates: [Int: ProductRate] = [:]
        for r in rows where productRates[r.tokens] == nil {
            productRates[r.tokens] = try model.measureProducts(rows: r.tokens, runs: runs)
        }
        let peak = model.fmaPeak()
        let batchSentences = try batchFile.map(Self.readBatchFile) ?? BatchMeasurement.defaultSentences
        let batch = batchRuns > 0 ? try BatchMeasurement.run(model: model, sentences: batchSentences, runs: batchRuns, warmup: min(warmup, 2)) : nil
        var lensTimes: [Double] = [], gridSeconds: Double? = nil
        if inside {
            let ids = try model.inputIDs(for: texts[0])
            for i in 0..<(warmup + runs) {
                let t0 = monotonicSeconds()
                _ = try model.logitLens(ids: ids, topK: 5)
                if i >= warmup { lensTimes.append(monotonicSeconds() - t0) }
            }
            lensTimes.sort()
            let t0 = monotonicSeconds()
            _ = try model.headImportance(ids: ids)
            gridSeconds = monotonicSeconds() - t0
        }
        let typing = typingInterval > 0 ? TypingMeasurement.run(model: model, text: texts[0], interval: typingInterval / 1000) : nil
        let rss = peakRSSBytes()
        let threads = model.threads
        if json {
            let cases = rows.map { r in
                JSONValue.object([("text", .string(r.text)), ("tokens", .int(r.tokens)), ("attention", .bool(r.attention)),
                                  ("median_ms", .number(ms(r.median))), ("p90_ms", .number(ms(r.p90))), ("min_ms", .number(ms(r.min))),
                                  ("products_gflops", .number(rounded(productRates[r.tokens]?.gflops ?? 0, 1))),
                                  ("products_peak_fraction", .number(rounded(productRates[r.tokens]?.peakFraction ?? 0, 3)))])
            }
            emit(JSONValue.object([
                ("model", .string(name)), ("layers", .int(model.config.numHiddenLayers)),
                ("hidden", .int(model.config.hiddenSize)), ("threads", .int(threads)), ("kernels", .string(model.kernelName)),
                ("matrices", .string(model.weightsSummary.matrixDType)),
                ("precision", .string(model.weightsSummary.precisionName)),
                ("rounded_at_load", .bool(!model.weightsSummary.roundedFrom.isEmpty)), ("runs", .int(runs)),
                ("load_ms", .number(ms(loadSeconds))), ("first_answer_ms", .number(ms(firstAnswerSeconds ?? 0))),
                ("second_answer_ms", .number(ms(secondAnswerSeconds ?? 0))),
                ("peak_rss_mb", .number(round(Double(rss) / 1_048_576 * 10) / 10)),
                ("panel_cache", .object([("at_load", .string(cacheAtLoad.name)), ("state", .string(model.panelCacheState.name)),
                                         ("path", model.panelCacheState.path.map(JSONValue.string) ?? .null),
                                         ("detail", model.panelCacheState.detail.map(JSONValue.string) ?? .null),
                                         ("write_ms", cacheWriteSeconds.map { .number(ms($0)) } ?? .null)])),
                ("fma_peak_gflops", .number(rounded(peak.gflops, 1))), ("fma_width_bits", .int(peak.widthBits)),
                ("cases", .array(cases)),
                ("batch", batch.map { b in
                    JSONValue.object([("sentences", .int(b.sentences)), ("tokens", .int(b.tokens)), ("runs", .int(b.batchTimes.count)),
                                      ("median_ms", .number(ms(percentile(b.batchTimes, 0.5)))), ("min_ms", .number(ms(b.batchTimes.first ?? 0))),
                                      ("sentences_per_second", .number((b.sentencesPerSecond * 10).rounded() / 10)),
                                      ("best_sentences_per_second", .number((b.bestSentencesPerSecond * 10).rounded() / 10)),
                                      ("one_at_a_time_sentences_per_second", .number((b.oneAtATimeSentencesPerSecond * 10).rounded() / 10))])
                } ?? .null),
                ("inside", inside ? JSONValue.object([
                    ("lens_median_ms", .number(ms(percentile(lensTimes, 0.5)))), ("lens_p90_ms", .number(ms(percentile(lensTimes, 0.9)))),
                    ("head_grid_seconds", .number(((gridSeconds ?? 0) * 1000).rounded() / 1000)),
                    ("heads", .int(model.config.numHiddenLayers * model.config.numAttentionHeads))]) : .null),
                ("typing", typing.map { t in
                    JSONValue.object([("keys", .int(t.keys)), ("interval_ms", .number(ms(t.interval))),
                                      ("key_to_frame_median_ms", .number(ms(percentile(t.keyToFrame, 0.5)))),
                                      ("key_to_frame_p90_ms", .number(ms(percentile(t.keyToFrame, 0.9)))),
                                      ("key_to_frame_max_ms", .number(ms(t.keyToFrame.last ?? 0))),
                                      ("last_key_to_answer_ms", .number(ms(t.lastKeyToAnswer))), ("answers_shown", .int(t.answersShown))])
                } ?? .null),
            ]).serialized())
            return
        }
        emit("model      \(name) (\(model.config.numHiddenLayers) layers, hidden \(model.config.hiddenSize), \(model.weightsSummary.dtypes.joined(separator: "/")))")
        emit("threads    \(threads), \(model.kernelName) kernels, weight matrices kept as \(model.weightsSummary.matrixDType)\(model.weightsSummary.roundedFrom.isEmpty ? "" : " (rounded at load)"), \(runs) timed runs after \(warmup) warm-up")
        emit("load       \(String(format: "%.1f", ms(loadSeconds))) ms   first answer \(String(format: "%.1f", ms(firstAnswerSeconds ?? 0))) ms after start of load, second \(String(format: "%.1f", ms(secondAnswerSeconds ?? 0))) ms\(Self.describeSecond(atLoad: cacheAtLoad))")
        emit("peak RSS   \(String(format: "%.1f", Double(rss) / 1_048_576)) MB")
        emit("panels     \(Self.describe(cache: model.panelCacheState, atLoad: cacheAtLoad, writeSeconds: cacheWriteSeconds))")
        emit("")
        emit(pad("tokens", 8) + pad("attention", 11) + pad("median ms", 11) + pad("p90 ms", 9) + pad("min ms", 9) + "text")
        for r in rows {
            let shown = r.text.count > 40 ? String(r.text.prefix(37)) + "..." : r.text
            emit(pad(String(r.tokens), 8) + pad(r.attention ? "yes" : "no", 11) + pad(String(format: "%.2f", ms(r.median)), 11)
                 + pad(String(format: "%.2f", ms(r.p90)), 9) + pad(String(format: "%.2f", ms(r.min)), 9) + shown)
        }
        emit("")
        for tokens in productRates.keys.sorted() {
            guard let rate = productRates[tokens] else { continue }
            let threads = "\(peak.threads) thread\(peak.threads == 1 ? "" : "s")"
            emit("products   \(tokens) tokens, \(rate.products) weight products: \(String(format: "%.1f", rate.gflops)) GFLOP/s"
                 + (peak.gflops > 0 ? " = \(String(format: "%.1f", rate.peakFraction * 100))% of the FMA peak (\(String(format: "%.1f", peak.gflops)) GFLOP/s, \(peak.widthBits)-bit, \(threads))"
                                    : " (no FMA peak: this CPU lacks AVX2+FMA)"))
        }
        if inside {
            emit("")
            emit("lens       one mask, \(model.config.numHiddenLayers + 1) rows (embeddings + every layer), first sentence: median \(String(format: "%.2f", ms(percentile(lensTimes, 0.5)))) ms, p90 \(String(format: "%.2f", ms(percentile(lensTimes, 0.9)))) ms")
            emit("head grid  \(model.config.numHiddenLayers) x \(model.config.numAttentionHeads) heads knocked out one at a time, first sentence: \(String(format: "%.2f", gridSeconds ?? 0)) s")
        }
        if let b = batch {
            emit("")
            emit("batch      \(b.sentences) sentences, \(b.tokens) tokens, in packed passes: median \(String(format: "%.1f", ms(percentile(b.batchTimes, 0.5)))) ms = \(String(format: "%.1f", b.sentencesPerSecond)) sentences/s (best \(String(format: "%.1f", b.bestSentencesPerSecond)))")
            emit("           one call per sentence: \(String(format: "%.1f", b.oneAtATimeSentencesPerSecond)) sentences/s")
        }
        if let t = typing {
            emit("")
            emit("typing     \(t.keys) keys, one every \(String(format: "%g", ms(t.interval))) ms, into the workbench loop (80x24, in memory)")
            emit("           key to frame: median \(String(format: "%.2f", ms(percentile(t.keyToFrame, 0.5)))) ms, p90 \(String(format: "%.2f", ms(percentile(t.keyToFrame, 0.9)))) ms, max \(String(format: "%.2f", ms(t.keyToFrame.last ?? 0))) ms")
            emit("           last key to its answer on screen: \(String(format: "%.1f", ms(t.lastKeyToAnswer))) ms; \(t.answersShown) answers shown while typing")
        }
    }
}

extension Bench {
    /// What the second answer did, for the load line.
    static func describeSecond(atLoad: PanelCacheState) -> String {
        if case .read = atLoad { return " (the panels were read packed)" }
        return " (packs the weight panels)"
    }

    /// The panel cache line of the text output.
    static func describe(cache: PanelCacheState, atLoad: PanelCacheState, writeSeconds: Double?) -> String {
        switch (atLoad, cache) {
        case (.read, _): "read from \(cache.path ?? "")"
        case (.writing, .written(let path)):
            "written to \(path), \(String(format: "%.0f", ms(writeSeconds ?? 0))) ms after the second answer (a thread)"
        default: "cache \(cache)"
        }
    }
}

func ms(_ seconds: Double) -> Double { (seconds * 1e5).rounded() / 100 }

/// `value` rounded to `digits` decimal places (for JSON numbers that should not show float noise).
func rounded(_ value: Double, _ digits: Int) -> Double {
    let scale = pow(10, Double(digits))
    return (value * scale).rounded() / scale
}

/// The value below which a fraction q of the sorted samples lie (nearest rank).
func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Peak resident set size of this process (getrusage reports kilobytes on Linux).
func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024
}
