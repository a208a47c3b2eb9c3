import ArgumentParser
import FileSupport
import Figures
import Foundation
import RoBERTa
import TerminalUI
import Workbench

/// `maskscope export`: one view of a text's analysis as a figure (SVG, PDF, PNG, HTML) or as the numbers behind it
/// (JSON, CSV). The engine runs here (`ExportRun`); its results are turned into Figures' plain view data by
/// Workbench's `FigureViews`, the same mapping the workbench's F9 uses.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a view (attention, overview, candidates, compare, lens, head statistics) as SVG, PDF, PNG, HTML, JSON or CSV.",
        discussion: """
            Views: attention (one layer and head: --layer, --head, --values), overview
            (every layer by every head, coloured by --statistic), candidates (the top
            --top-k at each mask), compare (two --model: candidates side by side, with
            KL, JS and top-k overlap), lens (the logit lens), head-stats (entropy and
            where each head looks). Layers and heads count from 1.

            The format comes from -o's extension (.svg .pdf .png .html .json .csv)
            unless --format says it; -o - writes to standard output (with --format).
            SVG, HTML and PDF keep text as text; the HTML page fetches nothing (the SVG
            inline, a few lines of script for the values under the pointer). PNG is
            drawn at --scale pixels per point.

            JSON of attention: {"model", "view", "layer", "head", "mode", "tokens",
            "matrix": [query][key]}; CSV: a header row of the key tokens, then per
            query its token and values. A heatmap is drawn for at most 256 tokens;
            JSON and CSV have no cap.

            --style theme uses a workbench theme's colours (--theme, default dark);
            print is white with the theme's ramp (viridis without --theme); viridis
            and cividis are colour-blind safe; mono is grey scale for print.
            """)

    @Option(name: .long, help: ArgumentHelp("A model name or directory as for predict; give it twice for --view compare. Default: the first model the startup policy opens.", valueName: "name|dir"))
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: RobertaModel.Precision.help)
    var precision: RobertaModel.Precision = .auto

    @Option(help: ArgumentHelp("What to draw.", valueName: "view"))
    var view: ExportView = .attention

    @Option(help: ArgumentHelp("The layer, counted from 1 (attention; the head outlined in the overview).", valueName: "L"))
    var layer: Int = 1

    @Option(help: ArgumentHelp("The head, counted from 1 (attention; the head outlined in the overview).", valueName: "H"))
    var head: Int = 1

    @Option(help: ArgumentHelp("What the attention heatmap shows: norms are Kobayashi et al. 2020, rollout Abnar & Zuidema 2020 (all heads, layers 1 to --layer).", valueName: "kind"))
    var values: AttentionValues = .weights

    @Option(help: ArgumentHelp("What colours the overview (mean over the queries; entropy over its maximum).", valueName: "name"))
    var statistic: OverviewStatistic = .entropy

    @Option(help: ArgumentHelp("svg, pdf, png, html, json or csv (default: from -o's extension).", valueName: "format"))
    var format: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The file to write (- for standard output).", valueName: "file"))
    var output: String

    @Option(help: ArgumentHelp("PNG pixels per point, 0.25 to 8 (default 2).", valueName: "x"))
    var scale: Double?

    @Option(help: ArgumentHelp("The colours.", valueName: "style"))
    var style: ExportStyle = .theme

    @Option(help: ArgumentHelp("A workbench theme from themes/ (dark, light, mono, cividis) for --style theme or print.", valueName: "name"))
    var theme: String?

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (candidates, compare, lens).", valueName: "k"))
    var topK: Int = 5

    @Flag(help: "Cut inputs longer than the model's positions instead of failing.")
    var truncate = false

    @Argument(help: "The text, with at least one <mask>.")
    var text: String

    func validate() throws {
        try OptionBounds.check(layer, 1...Int.max, option: "--layer")
        try OptionBounds.check(head, 1...Int.max, option: "--head")
        try OptionBounds.check(topK, 1...Int.max, option: "--top-k")
        if let threads { try OptionBounds.check(threads, 1...Int.max, option: "--threads") }
        if let scale { try OptionBounds.check(scale, FigureExport.pngScales, option: "--scale", unit: "pixels per point") }
        if view == .compare, model.count != 2 {
            throw ValidationError("--view compare needs two models: give --model twice, e.g. --model pocket-teacher --model pocket-student (got \(model.count))")
        }
        if view != .compare, model.count > 1 {
            throw ValidationError("--model is given \(model.count) times; only --view compare uses two models")
        }
        _ = try resolvedFormat()
    }

    /// --format, else the format -o's extension names.
    func resolvedFormat() throws -> FigureFormat {
        let names = FigureFormat.allCases.map(\.rawValue).joined(separator: ", ")
        if let format {
            guard let known = FigureFormat(rawValue: format.lowercased()) else {
                throw ValidationError("--format \(format) is not one we write; use one of \(names)")
            }
            return known
        }
        if output == "-" { throw ValidationError("-o - writes to standard output: say what to write with --format (\(names))") }
        let ext = URL(fileURLWithPath: output).pathExtension
        guard let known = FigureFormat(pathExtension: ext) else {
            let what = ext.isEmpty ? "-o \(output) has no extension" : "-o \(output): .\(ext) is not a format we write"
            throw ValidationError("\(what); name the file .svg, .pdf, .png, .html, .json or .csv, or give --format")
        }
        return known
    }

    func run() throws {
        let format = try resolvedFormat()
        if scale != nil, format != .png { warn("--scale only applies to PNG; a \(format.rawValue) file has no pixels, so it is ignored") }
        try checkOutputFolder()
        let figureStyle = try chosenStyle()
        let threads = OptionBounds.threads(self.threads)
        let names: [String?] = model.isEmpty ? [nil] : model
        let opened = try names.map { name in
            try openModel(name) { [precision] in try RobertaModel.load(directory: $0.directory, threads: threads, precision: precision) }
        }
        let views = ExportRun(text: text, topK: topK, truncate: truncate)
        let figure: Figure
        switch view {
        case .attention:
            let (m, name) = opened[0]
            try checkHead(m, name: name)
            figure = try views.attention(m, name: displayName(name), layer: layer - 1, head: head - 1, values: values.shown)
        case .overview:
            let (m, name) = opened[0]
            try checkHead(m, name: name)
            figure = try views.overview(m, name: displayName(name), statistic: statistic.headStatistic,
                                        selected: HeadRef(layer: layer - 1, head: head - 1))
        case .candidates:
            figure = try views.candidates(opened[0].model, name: displayName(opened[0].name))
        case .compare:
            figure = try views.compare(opened[0].model, name: displayName(opened[0].name), opened[1].model, name: displayName(opened[1].name))
        case .lens:
            figure = try views.lens(opened[0].model, name: displayName(opened[0].name))
        case .headStats:
            figure = try views.headStats(opened[0].model, name: displayName(opened[0].name))
        }
        let data = try FigureExport.render(figure, as: format, style: figureStyle, scale: scale ?? 2)
        if output == "-" {
            guard StandardStreams.writeAll(bytes: Array(data), to: STDOUT_FILENO) else {
                throw CommandFailure("cannot write to standard output (\(SystemErrorText.describe(errno: errno)))")
            }
            return
        }
        // A link is written through (the file it names is replaced, the link stays); a FIFO or a device
        // (/dev/stdout, a pipe made with mkfifo) is written into, as a shell's > would; anything else is replaced
        // whole or not at all.
        var info = stat()
        let exists = lstat(output, &info) == 0
        let target = exists && info.st_mode & S_IFMT == S_IFLNK ? (URL(fileURLWithPath: output).resolvingSymlinksInPath().path) : output
        var targetInfo = stat()
        if stat(target, &targetInfo) == 0, targetInfo.st_mode & S_IFMT != S_IFREG, targetInfo.st_mode & S_IFMT != S_IFDIR {
            let fd = open(target, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw CommandFailure("cannot write \(output) (\(SystemErrorText.describe(errno: errno)))") }
            defer { close(fd) }
            guard StandardStreams.writeAll(bytes: Array(data), to: fd) else { throw CommandFailure("cannot write \(output) (\(SystemErrorText.describe(errno: errno)))") }
        } else {
            do {
                try AtomicFile.write(data, to: target, createFolder: false, durable: true)
            } catch {
                throw CommandFailure("cannot write \(output): \(error.reason)")
            }
        }
        emit("wrote \(output) (\(format.rawValue), \(data.count) bytes): \(figure.viewName) of \(opened.map { displayName($0.name) }.joined(separator: " and "))")
    }

    /// Writes bytes (a PNG or PDF is not text) to standard output.
    /// Fails before any model is loaded when -o cannot be written: its folder missing, or -o a folder.
    func checkOutputFolder() throws {
        guard output != "-" else { return }
        let url = URL(fileURLWithPath: output)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw CommandFailure("-o \(output) is a folder; give a file name inside it, e.g. \(url.appendingPathComponent("figure." + ((try? resolvedFormat().rawValue) ?? "svg")).path)")
        }
        let folder = url.deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("cannot write \(output): the folder \(folder) does not exist; create it or write somewhere else")
        }
        guard access(folder, W_OK) == 0 else {
            throw CommandFailure("cannot write \(output): permission denied in \(folder); write to a folder you can write to")
        }
    }

    /// --layer and --head within the model.
    func checkHead(_ m: RobertaModel, name: String) throws {
        let layers = m.config.numHiddenLayers, heads = m.config.numAttentionHeads
        if layer > layers {
            throw CommandFailure("--layer \(layer) is out of range: \(displayName(name)) has layers 1-\(layers)")
        }
        if head > heads {
            throw CommandFailure("--head \(head) is out of range: \(displayName(name)) has heads 1-\(heads) in each layer")
        }
    }

    /// The figure's colours from --style and --theme.
    func chosenStyle() throws -> FigureStyle {
        switch style {
        case .viridis: return .viridis
        case .cividis: return .cividis
        case .mono: return .mono
        case .print:
            guard theme != nil else { return .print() }
            let chosen = try workbenchTheme()
            return chosen.monochrome ? .mono : .print(ramp: chosen.heatmap.map(FigureColor.init))
        case .theme:
            return try workbenchTheme().figureStyle
        }
    }

    /// The theme --theme names (default dark), read as the workbench reads it.
    func workbenchTheme() throws -> Theme {
        let (themes, broken) = Theme.available(noColor: false, executable: URL(fileURLWithPath: CommandLine.arguments[0]))
        let name = try Theme.choose(requested: theme ?? (themes.contains { $0.name == "dark" } ? "dark" : nil), saved: nil,
                                    available: themes.map(\.name), broken: broken, noColor: false)
        return themes.first { $0.name == name } ?? Theme.monochromeFallback
    }
}

/// A model as figures and the server name it: a directory's last component, else the name as given.
func displayName(_ name: String) -> String {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory), isDirectory.boolValue {
        return URL(fileURLWithPath: name).standardizedFileURL.lastPathComponent
    }
    return name
}

enum ExportView: String, ExpressibleByArgument, CaseIterable {
    case attention, overview, candidates, compare, lens
    case headStats = "head-stats"
}

enum ExportStyle: String, ExpressibleByArgument, CaseIterable {
    case theme, print, cividis, viridis, mono
}

enum AttentionValues: String, ExpressibleByArgument, CaseIterable {
    case weights, norms, rollout

    /// The workbench's name for the same values (v).
    var shown: Workbench.AttentionValues {
        switch self {
        case .weights: return .weights
        case .norms: return .norms
        case .rollout: return .rollout
        }
    }
}

/// `--export-format` of the workbench.
extension FigureFormat: ExpressibleByArgument {}

/// Runs the engine for `export` and hands its results to `FigureViews` (layers and heads counted from 0 here).
struct ExportRun {
    let text: String
    let topK: Int
    let truncate: Bool

    private func run(_ model: RobertaModel, attention: Bool, norms: Bool = false) throws -> FillMaskResult {
        try OptionBounds.checkTopK(topK, source: "--top-k", model: model)
        let result = try model.fillMask(text, options: FillMaskOptions(
            topK: topK, truncate: truncate, capture: CaptureOptions(attention: attention, norms: norms)))
        for message in result.warnings { warn(message) }
        return result
    }

    private func tokens(_ model: RobertaModel, _ ids: [Int]) -> [TokenRow] {
        ids.map { TokenRow(id: $0, tokenizer: model.tokenizer) }
    }

    /// One head's map: weights, norms, or the rollout up to `layer`.
    func attention(_ model: RobertaModel, name: String, layer: Int, head: Int, values: Workbench.AttentionValues) throws -> Figure {
        let result = try run(model, attention: true, norms: values == .norms)
        let maps: AttentionMaps?
        switch values {
        case .weights: maps = result.attention
        case .norms: maps = result.encoder.norms
        case .rollout: maps = result.attention.map(attentionRollout)
        }
        guard let maps else { throw CommandFailure("the engine returned no attention maps for this text") }
        return FigureViews.heatmap(maps, model: name, layer: layer, head: head, values: values, tokens: tokens(model, result.ids), text: text)
    }

    /// Every head's statistic, [layer][head].
    func overview(_ model: RobertaModel, name: String, statistic: HeadStatistic, selected: HeadRef) throws -> Figure {
        let result = try run(model, attention: true)
        guard let maps = result.attention else { throw CommandFailure("the engine returned no attention maps for this text") }
        return FigureViews.overview(model.headStatistics(maps, ids: result.ids), statistic: statistic, model: name, selected: selected, text: text)
    }

    func candidates(_ model: RobertaModel, name: String) throws -> Figure {
        FigureViews.candidates(try run(model, attention: false).masks.map { MaskRow($0) }, model: name, text: text)
    }

    /// Both models' candidates, and per mask the measures the workbench's compare mode shows (KL and JS from the
    /// first model's distribution to the second's, top-k overlap).
    func compare(_ first: RobertaModel, name firstName: String, _ second: RobertaModel, name secondName: String) throws -> Figure {
        let a = try run(first, attention: false), b = try run(second, attention: false)
        if a.masks.count != b.masks.count {
            warn("the two models see \(a.masks.count) and \(b.masks.count) masks in the text; masks are paired in order")
        }
        let measures = VocabularyPair(teacher: first, student: second).measure(teacher: a.maskLogits, student: b.maskLogits, k: topK)
        return FigureViews.compare(teacher: a.masks.map { MaskRow($0) }, name: firstName, student: b.masks.map { MaskRow($0) }, name: secondName,
                                   measures: measures, text: text)
    }

    func lens(_ model: RobertaModel, name: String) throws -> Figure {
        let result = try run(model, attention: false)
        return FigureViews.lens(try model.logitLens(ids: result.ids, topK: topK), model: name, text: text)
    }

    func headStats(_ model: RobertaModel, name: String) throws -> Figure {
        let result = try run(model, attention: true)
        guard let maps = result.attention else { throw CommandFailure("the engine returned no attention maps for this text") }
        return FigureViews.headStats(model.headStatistics(maps, ids: result.ids), model: name, text: text)
    }
}

/// --statistic: the workbench's head statistics (S), spelled for a command line.
enum OverviewStatistic: String, ExpressibleByArgument, CaseIterable {
    case entropy
    case toBOS = "to-bos", toEOS = "to-eos", toPrev = "to-prev", toSelf = "to-self", toNext = "to-next", toPunct = "to-punct"

    var headStatistic: HeadStatistic {
        switch self {
        case .entropy: return .entropy
        case .toBOS: return .toBOS
        case .toEOS: return .toEOS
        case .toPrev: return .toPrev
        case .toSelf: return .toSelf
        case .toNext: return .toNext
        case .toPunct: return .toPunct
        }
    }
}
