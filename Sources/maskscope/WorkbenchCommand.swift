import ArgumentParser
import CursesBackend
import Figures
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
            editor) for every key; q or Ctrl-C quits at once.

            Nothing typed is lost: the sentence, history, notes, selections and models are autosaved a few
            seconds after each change and whenever the workbench ends (q, Ctrl-C, SIGTERM, SIGHUP, even a
            crash), to $XDG_STATE_HOME/maskscope/autosave.json (default ~/.local/state/maskscope/
            autosave.json; MASKSCOPE_AUTOSAVE=FILE puts it elsewhere, MASKSCOPE_AUTOSAVE=off turns it off).
            The next start without --session or --text brings that work back and says so; Ctrl-Z then
            starts fresh (and again brings it back). The autosave found at start is also kept as
            autosave.previous.json; --session opens either file.

            Themes are read from themes/*.json; NO_COLOR turns colours off. Any signal that ends the
            workbench gives the terminal back first; SWIFT_BACKTRACE=interactive=no adds the Swift
            runtime's backtrace after a crash.
            """)

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("roberta-base, roberta-large, distilroberta-base, ORG/NAME (Hugging Face cache) or a model directory; give two to switch and compare. Default: the models in the cache, else pocket-teacher and pocket-student (small models trained here).", valueName: "name|dir"))
    var model: [String] = []

    @Option(name: .long, help: ArgumentHelp("Open a saved session (sessions/NAME.json).", valueName: "file"))
    var session: String?

    @Option(name: .long, help: ArgumentHelp("Colour theme: a name from themes/ (dark, light, mono, cividis).", valueName: "name"))
    var theme: String?

    @Option(name: .long, help: ArgumentHelp("Text to start with.", valueName: "text"))
    var text: String?

    @Option(name: .customLong("top-k"), help: ArgumentHelp("Candidates per mask (default 5).", valueName: "k"))
    var topK: Int?

    @Option(name: .customLong("export-format"), help: ArgumentHelp("What F9 (w) writes the focused pane's figure to exports/ as: svg, pdf, png, html, json or csv (default svg, or the session's; W changes it).", valueName: "format"))
    var exportFormat: FigureFormat?

    @Option(name: .long, help: ArgumentHelp("Threads for the matrix work (default: one per core).", valueName: "n"))
    var threads: Int?

    @Option(name: .long, help: RobertaModel.Precision.help)
    var precision: RobertaModel.Precision = .auto

    func validate() throws {
        if let topK, topK < 1 || topK > 50 { throw ValidationError("--top-k must be between 1 and 50 (got \(topK))") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
    }

    func run() throws {
        // Everything that can fail on the command line fails here, before the screen opens.
        let threads = OptionBounds.threads(threads)
        let options = LaunchOptions(models: model, sessionFile: session, theme: theme, text: text, topK: topK, exportFormat: exportFormat)
        var opened: Session?
        if let session {
            do { opened = try Session.load(from: session) } catch { fail(String(describing: error)) }
        }
        // Problems to show on the status line once the screen is open (none of them stops the start).
        var problems: [String] = []

        // The autosave: offered back when no --session or --text says what to open; kept as
        // autosave.previous.json before this run writes over it.
        let environment = ProcessInfo.processInfo.environment
        let autosavePath = Autosave.location(environment: environment, home: environment["HOME"] ?? NSHomeDirectory())
        var found: Autosave?
        if let autosavePath {
            Autosaver.removeStaleTemporaries(of: autosavePath)
            do { found = try Autosave.load(from: autosavePath) } catch {
                // Moved aside, not overwritten: what is in it may still be read by hand.
                let aside = autosavePath + ".broken"
                rename(autosavePath, aside)
                problems.append("\(error); moved it to \(aside)")
            }
            if let found { Autosaver.keepPrevious(found, of: autosavePath) }
        }
        let restoring = WorkbenchLaunch.restorable(found, options: options)

        let load = { [threads, precision] (resolved: ResolvedModel) in
            try RobertaModel.load(directory: resolved.directory, threads: threads, precision: precision)
        }
        /// A named model resolved and loaded, with what a session saves for it (as named) and what the status line calls it.
        func open(_ entry: NamedModel) throws -> (model: RobertaModel, given: String, title: String) {
            let resolved = try ModelResolver().resolve(entry.lookup)
            do { return (try load(resolved), entry.given, resolved.title) } catch {
                throw ValidationError("cannot load model \(resolved.directory.path): \(error)")
            }
        }
        var models: [(model: RobertaModel, given: String, title: String)] = []
        var banner: String?
        let named = WorkbenchLaunch.models(options, session: opened)
        if named.isEmpty, let restoring {
            // The restored work's models, when they still open; else the defaults, and the status line says why.
            do { models = try restoring.session.models.map { try open(NamedModel(given: $0, lookup: $0)) } } catch {
                problems.append("the autosave's models did not open (\(error)); opened the default models")
                models = []
            }
        }
        if !named.isEmpty {
            for entry in named {
                do { models.append(try open(entry)) } catch { fail(String(describing: error)) }
            }
        } else if models.isEmpty {
            // None named: the startup policy (cached models, else the pocket pair); the first two that load.
            do {
                let selection = try StartupPolicy().open(limit: 2, load: load)
                models = selection.models.map { ($0.model, $0.resolved.name, $0.resolved.title) }
                banner = selection.banner
                if let notice = selection.notice { problems.insert(notice, at: 0) }
            } catch {
                fail(String(describing: error))
            }
        }

        // Pocket models named (by --model, a session or the autosave) carry the same banner as when the policy opens them.
        if banner == nil, models.contains(where: { PocketModels.names.contains($0.given) }) { banner = PocketModels.banner }

        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        let (themes, brokenThemes) = Theme.available(noColor: noColor, executable: URL(fileURLWithPath: CommandLine.arguments[0]))
        let saved = opened?.theme ?? restoring?.session.theme
        let chosen: String
        do {
            chosen = try Theme.choose(requested: theme, saved: saved, available: themes.map(\.name), broken: brokenThemes, noColor: noColor)
        } catch {
            fail(String(describing: error))
        }
        if let passedOver = Theme.passedOver(saved: saved, chosen: chosen, broken: brokenThemes) { problems.append(passedOver) }

        let infos = models.enumerated().map { i, m -> ModelInfo in
            var name = m.title
            if models.indices.contains(where: { $0 != i && models[$0].title == m.title }) { name += "#\(i + 1)" }
            return ModelInfo(m.model, name: name, path: m.given, directory: m.model.directory.path)
        }
        var state: WorkbenchState
        if let restoring {
            state = WorkbenchLaunch.state(models: infos, options: options, restoring: restoring, themes: themes.map(\.name), theme: chosen, now: Date())
        } else {
            state = WorkbenchLaunch.state(models: infos, options: options, session: opened, themes: themes.map(\.name), theme: chosen)
        }
        state.banner = banner
        state.catalog = Self.catalog()
        if !problems.isEmpty {
            state.notice = Notice(([state.notice?.text].compactMap { $0 } + problems).joined(separator: " · "), isError: true)
        }

        var autosaver: Autosaver?
        if let autosavePath {
            // The folder exists before the crash handler may need it (it can only open a file, not make folders).
            try? FileManager.default.createDirectory(atPath: URL(fileURLWithPath: autosavePath).deletingLastPathComponent().path,
                                                     withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            CrashSave.configure(path: autosavePath)
            autosaver = Autosaver(path: autosavePath, published: { CrashSave.publish($0) })
        }

        let terminal: CursesTerminal
        do { terminal = try CursesTerminal(colors: !noColor) } catch { fail(String(describing: error)) }
        defer { terminal.close() }
        let mailbox = Mailbox()
        let scheduler = InferenceScheduler(
            models: models.map(\.model),
            deliver: { request, analysis in mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: analysis)) },
            finished: { mailbox.post($0) })
        let app = WorkbenchApp(
            state: state, backend: terminal, themes: themes,
            runInference: { scheduler.submit($0) },
            saveSession: { session, path in
                let target = path ?? Self.newSessionPath()
                try session.save(to: target)
                return target
            },
            loadModel: { [threads, precision] request in
                // Off the UI thread: reading config, tokenizer and mapping the weights can take seconds.
                DispatchQueue.global(qos: .userInitiated).async {
                    do {
                        let loaded = try RobertaModel.load(directory: URL(fileURLWithPath: request.directory), threads: threads, precision: precision)
                        let index = scheduler.add(loaded)
                        let info = ModelInfo(loaded, name: request.name, path: request.name, directory: request.directory)
                        mailbox.post(.modelLoaded(info, index: index))
                    } catch {
                        mailbox.post(.modelLoadFailed(name: request.name, message: String(describing: error)))
                    }
                }
            },
            autosaver: autosaver, mailbox: mailbox, background: WorkbenchApp.BackgroundWork(scheduler))
        app.run()
        // Ended by SIGTERM, SIGHUP or SIGINT: the work is saved; give the terminal back, then die of the
        // signal, so whoever sent it sees that it worked (exit status 128 + N).
        terminal.close()
        if let number = app.endedBySignal {
            signal(number, SIG_DFL)
            raise(number)
        }
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

    /// One line on stderr, exit status 1.
    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
        Foundation.exit(1)
    }
}

extension ModelInfo {
    /// What the workbench shows of a loaded model, under the name and path it was asked for; a model whose
    /// matrices were rounded at load (--precision bf16|f16) is shown as "NAME bf16" (the status line, the notices).
    init(_ model: RobertaModel, name: String, path: String, directory: String) {
        let summary = model.weightsSummary
        let shown = summary.roundedFrom.isEmpty ? name : "\(name) \(summary.precisionName)"
        self.init(name: shown, path: path, layers: model.config.numHiddenLayers, heads: model.config.numAttentionHeads,
                  maxTokens: model.config.maxTokens, directory: URL(fileURLWithPath: directory).standardizedFileURL.path,
                  layerOrigin: LayerOrigin.read(directory: directory))
    }
}
