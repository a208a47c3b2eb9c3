import Foundation
import Workbench

/// The workbench's loop: terminal events become actions, the reducer updates the state, effects start
/// work (inference on a background thread), results come back as actions, and the screen is redrawn.
///
/// The loop thread only waits on the terminal and draws; inference never runs on it, so typing never waits.
public final class WorkbenchApp {
    public private(set) var state: WorkbenchState
    let backend: TerminalBackend
    let themes: [String: Theme]
    let runInference: (InferenceRequest) -> Void
    let saveSession: (Session, String?) throws -> String
    let loadModel: ((ModelLoadRequest) -> Void)?
    /// Background work besides inference (the same scheduler in the program; nil where there is none).
    let background: BackgroundWork?
    /// Keeps the autosave file up to date; nil where nothing is autosaved (tests, the bench).
    let autosaver: Autosaver?
    /// Draws and writes F9's figures on its own thread (exports/ in the current directory by default).
    let exporter: FigureExporter
    /// Where background work posts its results.
    public let mailbox: Mailbox
    /// The signal that ended the loop (SIGTERM, SIGHUP, SIGINT), if one did: the caller gives the terminal
    /// back, then dies of it, so the parent sees how the program ended.
    public private(set) var endedBySignal: Int32?

    /// - Parameters:
    ///   - runInference: starts a request; the app's `deliver` must be called with its result (any thread).
    ///   - saveSession: writes a session (to the path, or a new file when nil) and returns where it went.
    ///   - loadModel: starts loading a model off this thread; it must post `.modelLoaded` or `.modelLoadFailed`
    ///     to the mailbox. Nil where models cannot be loaded later (the picker then says so).
    ///   - autosaver: sees every state and writes the autosave when due and when the loop ends.
    ///   - background: starts comparisons and pseudo-log-likelihood scorings; their results must be posted to the
    ///     mailbox. Nil where there is nothing to run them (the strip then says so; the measures stay absent).
    ///   - exporter: draws and writes the figures F9 asks for, off this thread; its answers go through the mailbox.
    public init(state: WorkbenchState, backend: TerminalBackend, themes: [Theme],
                runInference: @escaping (InferenceRequest) -> Void,
                saveSession: @escaping (Session, String?) throws -> String,
                loadModel: ((ModelLoadRequest) -> Void)? = nil, autosaver: Autosaver? = nil, mailbox: Mailbox = Mailbox(),
                background: BackgroundWork? = nil, exporter: FigureExporter = FigureExporter()) {
        self.exporter = exporter
        self.state = state
        self.background = background
        self.autosaver = autosaver
        self.mailbox = mailbox
        self.backend = backend
        self.themes = Dictionary(themes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        self.runInference = runInference
        self.saveSession = saveSession
        self.loadModel = loadModel
        // A result posted from the background shows at once instead of at the loop's next poll timeout.
        mailbox.onPost = { [weak backend] in backend?.wake() }
    }

    /// Applies one action and performs its effects.
    public func send(_ action: Action) {
        defer { autosaver?.observe(state) }
        for effect in reduce(&state, action) {
            switch effect {
            case .runInference(let request): runInference(request)
            case .saveSession(let session, let path):
                do {
                    let written = try saveSession(session, path)
                    _ = reduce(&state, .sessionSaved(path: written))
                } catch {
                    _ = reduce(&state, .sessionSaveFailed(String(describing: error)))
                }
            case .loadModel(let request):
                if let loadModel {
                    loadModel(request)
                } else {
                    send(.modelLoadFailed(name: request.name, message: "this workbench cannot load models after it started"))
                }
            case .scoreSentence(let request):
                if let background {
                    background.score(request)
                } else {
                    send(.scoreFinished(id: request.id, model: request.model, score: .failed("this workbench cannot score sentences")))
                }
            case .cancelScoring: background?.cancel()
            case .compareDistributions(let request): background?.compare(request)
            case .measureImportance(let request):
                if let background {
                    background.importance(request)
                } else {
                    send(.importanceFinished(id: request.id, result: .failed("this workbench cannot measure head importance")))
                }
            case .cancelImportance: background?.cancelImportance()
            case .exportFigure(let request):
                // In the colours of the theme on screen; drawn and written on the exporter's thread.
                let theme = themes[request.theme] ?? themes[state.theme] ?? Theme.monochromeFallback
                let mailbox = self.mailbox
                exporter.start(request, style: theme.figureStyle) { mailbox.post($0) }
            case .quit: break
            }
        }
    }

    /// How the app starts the work behind the compare measures and the pseudo-log-likelihood strip (in the
    /// program: `InferenceScheduler.submitScore`, `.cancelScores`, `.submitComparison`).
    public struct BackgroundWork {
        public var score: (ScoreRequest) -> Void
        public var cancel: () -> Void
        public var compare: (ComparisonRequest) -> Void
        public var importance: (ImportanceRequest) -> Void
        public var cancelImportance: () -> Void

        public init(score: @escaping (ScoreRequest) -> Void, cancel: @escaping () -> Void, compare: @escaping (ComparisonRequest) -> Void,
                    importance: @escaping (ImportanceRequest) -> Void = { _ in }, cancelImportance: @escaping () -> Void = {}) {
            self.score = score
            self.cancel = cancel
            self.compare = compare
            self.importance = importance
            self.cancelImportance = cancelImportance
        }

        /// The scheduler's own queue: comparisons and scorings wait behind the inference runs.
        public init(_ scheduler: InferenceScheduler) {
            self.init(score: { scheduler.submitScore($0) }, cancel: { scheduler.cancelScores() }, compare: { scheduler.submitComparison($0) },
                      importance: { scheduler.submitImportance($0) }, cancelImportance: { scheduler.cancelImportance() })
        }
    }

    /// The frame for the current state.
    public func frame() -> CellBuffer {
        let size = backend.size
        let theme = themes[state.theme] ?? themes.values.first ?? Theme.monochromeFallback
        return Screen.render(state, theme: theme, width: size.width, height: size.height)
    }

    /// Runs until the user quits or the terminal asks the program to end; `maxPolls` bounds test runs. The
    /// autosave is written last, saying how the loop ended.
    public func run(maxPolls: Int? = nil) {
        autosaver?.observe(state)
        defer { autosaver?.finish(endedBy: endedBySignal.map(Autosave.signalName) ?? Autosave.quit) }
        send(.opened)
        var last: CellBuffer?
        var polls = 0
        var dirty = true
        while !state.quitRequested {
            // Render only after something happened, so an idle workbench costs nothing.
            if dirty {
                let current = frame()
                if current != last {
                    backend.draw(current)
                    last = current
                }
                dirty = false
            }
            if let maxPolls, polls >= maxPolls { break }
            polls += 1
            let events = backend.poll(timeout: 0.05)
            let results = mailbox.drain()
            dirty = !events.isEmpty || !results.isEmpty
            for event in events {
                switch event {
                case .key(let key):
                    if let action = Keymap.action(for: key, in: state) { send(action) }
                case .paste(let text):
                    if state.notesEditor != nil {
                        send(.notesEdited(.insert(text)))
                    } else if state.focus == .editor, !state.showHelp, state.pickerSelection == nil {
                        send(.textInserted(text))
                    } else {
                        for c in text { if let action = Keymap.action(for: .char(c), in: state) { send(action) } }
                    }
                case .resized: last = nil
                case .terminate: send(.quitRequested)
                case .signal(let number):
                    endedBySignal = endedBySignal ?? number
                    send(.quitRequested)
                }
            }
            for action in results { send(action) }
            if let failure = autosaver?.tick() {
                send(.autosaveFailed(failure))
                dirty = true
            }
        }
    }
}

/// Actions handed over from background threads to the loop.
public final class Mailbox: @unchecked Sendable {
    private let lock = NSLock()
    private var actions: [Action] = []
    private var wakeLoop: (() -> Void)?

    public init() {}

    /// Called after every post, on the posting thread: the app makes it wake the loop's `poll`.
    public var onPost: (() -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return wakeLoop }
        set { lock.lock(); wakeLoop = newValue; lock.unlock() }
    }

    /// Posts an action; safe from any thread.
    public func post(_ action: Action) {
        lock.lock()
        actions.append(action)
        let wake = wakeLoop
        lock.unlock()
        wake?()
    }

    /// Takes every posted action, oldest first.
    public func drain() -> [Action] {
        lock.lock()
        defer { lock.unlock() }
        let out = actions
        actions = []
        return out
    }
}
