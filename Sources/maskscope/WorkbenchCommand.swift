import ArgumentParser
import CursesBackend
import Foundation
import ModelStore
import RoBERTa
import TerminalUI
import Workbench

/// `maskscope` / `maskscope workbench`: the interactive terminal workbench.
struct WorkbenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "Open the terminal workbench: live fill-mask, tokens and BPE merges, attention heatmaps, two models side by side.",
        discussion: """
            Type a sentence with <mask> and the candidates update as you type. Press F1 (or ? outside the
            editor) for every key; q or Ctrl-C quits. Themes are read from themes/*.json; NO_COLOR turns
            colours off.
            """)

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("roberta-base, roberta-large, distilroberta-base, ORG/NAME (Hugging Face cache) or a model directory; give two to switch and compare. Default: the models in the cache, else the bundled demo.", valueName: "name|dir"))
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Open a saved session (sessions/NAME.json).", valueName: "file"))
    var session: String?

    @Option(name: .long, help: ArgumentHelp("Colour theme: a name from themes/ (dark, light, mono, cividis).", valueName: "name"))
    var theme: String?

    @Option(name: .long, help: ArgumentHelp("Text to start with.", valueName: "text"))
    var text: String?

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (default 5).", valueName: "k"))
    var topK: Int?

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let topK, topK < 1 || topK > 50 { throw ValidationError("--top-k must be between 1 and 50 (got \(topK))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }

    func run() throws {
        // Everything that can fail on the command line fails here, before the screen opens.
        var opened: Session?
        if let session {
            do { opened = try Session.load(from: session) } catch { fail(String(describing: error)) }
        }
        var names = model.isEmpty ? (opened?.models ?? []) : model
        var paths: [String] = []
        // What the status line calls each model: the short name for cached ones, else the folder's name.
        var titles: [String] = []
        var banner: String?
        // Without --model, a cached model that does not load is passed over (and named in the status line).
        var skipBroken = false
        if names.isEmpty {
            // No model named: the real ones in the Hugging Face cache, else the bundled demo with a banner.
            do {
                let startup = try ModelCatalog().startupModels()
                // Every candidate: one that fails to load is skipped below, the first two that load are opened.
                names = startup.models.map { $0.source == .cache ? $0.name : $0.directory.path }
                paths = startup.models.map(\.directory.path)
                titles = startup.models.map { $0.source == .cache ? $0.name : $0.directory.standardizedFileURL.lastPathComponent }
                skipBroken = true
                banner = startup.banner
            } catch {
                fail(String(describing: error))
            }
        } else {
            // Sessions keep the models as they were named; names resolve through the cache, paths as given
            // (a session's relative paths also from the folder above the session's).
            let candidates = model.isEmpty ? resolvedSessionModels(opened) : model
            for candidate in candidates {
                do {
                    let resolved = try ModelResolver().resolve(candidate)
                    paths.append(resolved.directory.path)
                    titles.append(resolved.source == .cache ? resolved.name : resolved.directory.standardizedFileURL.lastPathComponent)
                } catch {
                    fail(String(describing: error))
                }
            }
        }
        var models: [RobertaModel] = []
        var skipped: [String] = []
        var firstFailure: String?
        var kept: [Int] = []
        for (i, path) in paths.enumerated() {
            if skipBroken, models.count == 2 { break }
            do {
                models.append(try RobertaModel.load(directory: URL(fileURLWithPath: path), threads: threads))
                kept.append(i)
            } catch {
                let message = "cannot load model \(path): \(error)"
                guard skipBroken else { fail(message) }
                skipped.append(titles.indices.contains(i) ? titles[i] : path)
                if firstFailure == nil { firstFailure = message }
            }
        }
        if skipBroken {
            if models.isEmpty { fail(firstFailure ?? "no model could be loaded") }
            names = kept.map { names[$0] }
            paths = kept.map { paths[$0] }
            titles = kept.map { titles[$0] }
        }

        let noColor = !(ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        var themes: [Theme] = [Theme.monochromeFallback]
        if !noColor, let directory = Theme.findDirectory(executable: URL(fileURLWithPath: CommandLine.arguments[0])) {
            let found = Theme.loadAll(from: directory)
            if !found.themes.isEmpty { themes = found.themes }
        }
        let themeNames = themes.map(\.name)
        var chosen = noColor ? "mono" : (themeNames.contains("dark") ? "dark" : themeNames[0])
        if let wanted = theme ?? opened?.theme, !noColor {
            if themeNames.contains(wanted) {
                chosen = wanted
            } else if theme != nil {
                fail(String(describing: ThemeError.unknown(name: wanted, available: themeNames)))
            }
        }

        let infos = models.enumerated().map { i, m -> ModelInfo in
            let title = titles.indices.contains(i) ? titles[i] : m.directory.standardizedFileURL.lastPathComponent
            var name = title
            if titles.indices.contains(where: { $0 != i && titles[$0] == title }) { name += "#\(i + 1)" }
            return ModelInfo(m, name: name, path: names.indices.contains(i) ? names[i] : paths[i], directory: paths[i])
        }
        var state = WorkbenchState(models: infos, text: text ?? "", themes: themeNames, theme: chosen)
        state.banner = banner
        state.catalog = Self.catalog()
        if !skipped.isEmpty {
            state.notice = Notice("could not load \(skipped.joined(separator: ", ")) from the cache; F5 lists the models, Enter on one says why", isError: true)
        }
        if let opened {
            state.restore(opened)
            state.sessionPath = session
            if let text { state.editor.setText(text) }
        } else if text == nil {
            state.editor.setText("Paris is the <mask> of France.")
        }
        if let topK { state.topK = topK }

        let terminal: CursesTerminal
        do { terminal = try CursesTerminal(colors: !noColor) } catch { fail(String(describing: error)) }
        defer { terminal.close() }
        let mailbox = Mailbox()
        let scheduler = InferenceScheduler(models: models) { request, analysis in
            mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: analysis))
        }
        let app = WorkbenchApp(
            state: state, backend: terminal, themes: themes,
            runInference: { scheduler.submit($0) },
            saveSession: { session, path in
                let target = path ?? Self.newSessionPath()
                try session.save(to: target)
                return target
            },
            loadModel: { [threads] request in
                // Off the UI thread: reading config, tokenizer and mapping the weights can take seconds.
                DispatchQueue.global(qos: .userInitiated).async {
                    do {
                        let loaded = try RobertaModel.load(directory: URL(fileURLWithPath: request.directory), threads: threads)
                        let index = scheduler.add(loaded)
                        let info = ModelInfo(loaded, name: request.name, path: request.name, directory: request.directory)
                        mailbox.post(.modelLoaded(info, index: index))
                    } catch {
                        mailbox.post(.modelLoadFailed(name: request.name, message: String(describing: error)))
                    }
                }
            },
            mailbox: mailbox)
        app.run()
    }

    /// The models the picker offers: every model in the Hugging Face cache, then the known ones to pull.
    static func catalog() -> [CatalogModel] {
        ModelCatalog().entries().map { entry in
            var problem: String?
            if entry.present, !entry.loadable {
                problem = entry.notes.isEmpty ? "not a RoBERTa model MaskScope can load" : entry.notes.joined(separator: "; ")
            }
            return CatalogModel(name: entry.name, directory: entry.present ? entry.directory?.standardizedFileURL.path : nil,
                                layers: entry.layers, hiddenSize: entry.hiddenSize, size: entry.sizeBytes.map(formatBytes),
                                pullCommand: entry.present ? nil : (entry.pullCommand ?? "maskscope pull \(entry.name)"), problem: problem)
        }
    }

    /// sessions/session-YYYYMMDD-HHMMSS.json under the current directory.
    static func newSessionPath() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "sessions/session-\(formatter.string(from: Date())).json"
    }

    /// A session's model paths: as written when they exist from here, else relative to the folder above
    /// the session's (so sessions/*.json in the repository find Tests/Fixtures/...).
    func resolvedSessionModels(_ session: Session?) -> [String] {
        guard let session, let file = self.session else { return [] }
        let root = URL(fileURLWithPath: file).deletingLastPathComponent().deletingLastPathComponent()
        return session.models.map { path in
            if path.hasPrefix("/") || FileManager.default.fileExists(atPath: path) { return path }
            let candidate = root.appendingPathComponent(path).path
            return FileManager.default.fileExists(atPath: candidate) ? candidate : path
        }
    }

    /// One line on stderr, exit status 1.
    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
        Foundation.exit(1)
    }
}

extension ModelInfo {
    /// What the workbench shows of a loaded model, under the name and path it was asked for.
    init(_ model: RobertaModel, name: String, path: String, directory: String) {
        self.init(name: name, path: path, layers: model.config.numHiddenLayers, heads: model.config.numAttentionHeads,
                  maxTokens: model.config.maxTokens, directory: URL(fileURLWithPath: directory).standardizedFileURL.path)
    }
}
