import Figures
import Foundation

/// What the workbench's command line asked for, before a saved session and the defaults fill in the rest.
public struct LaunchOptions: Equatable, Sendable {
    /// `--model`, in order (names or directories).
    public var models: [String]
    /// `--session FILE`.
    public var sessionFile: String?
    public var theme: String?
    public var text: String?
    public var topK: Int?
    /// `--export-format`: what F9 writes figures as, over the session's.
    public var exportFormat: FigureFormat?

    public init(models: [String] = [], sessionFile: String? = nil, theme: String? = nil, text: String? = nil, topK: Int? = nil,
                exportFormat: FigureFormat? = nil) {
        self.exportFormat = exportFormat
        self.models = models
        self.sessionFile = sessionFile
        self.theme = theme
        self.text = text
        self.topK = topK
    }
}

/// A model to open: as it was named (what a saved session keeps) and what to resolve to find it.
public struct NamedModel: Equatable, Sendable {
    public let given: String
    public let lookup: String

    public init(given: String, lookup: String) {
        self.given = given
        self.lookup = lookup
    }
}

/// How the command line, a saved session and the defaults combine into the workbench's first state: a
/// flag wins over the session, the session over the defaults.
public enum WorkbenchLaunch {
    /// The sentence a workbench opens with when neither `--text` nor a session gives one.
    public static let sampleText = "Paris is the <mask> of France."

    /// The models to open: `--model`, else the session's, else none (the startup policy then chooses). A
    /// session's relative path is taken as written when it exists from here, else from the folder above the
    /// session file's (so sessions/*.json in the repository find Tests/Fixtures/...); names stay names.
    public static func models(_ options: LaunchOptions, session: Session?,
                              fileExists: (String) -> Bool = { FileManager.default.fileExists(atPath: $0) }) -> [NamedModel] {
        if !options.models.isEmpty { return options.models.map { NamedModel(given: $0, lookup: $0) } }
        guard let session else { return [] }
        let root = options.sessionFile.map { URL(fileURLWithPath: $0).deletingLastPathComponent().deletingLastPathComponent() }
        return session.models.map { path in
            guard let root, !path.hasPrefix("/"), !fileExists(path) else { return NamedModel(given: path, lookup: path) }
            let candidate = root.appendingPathComponent(path).path
            return NamedModel(given: path, lookup: fileExists(candidate) ? candidate : path)
        }
    }

    /// The first state: the session restored (when one was opened), then `--text` and `--top-k` over it, and
    /// `theme` (already chosen from the flag, the session and the defaults) kept; without a session or
    /// `--text`, the sample sentence.
    public static func state(models: [ModelInfo], options: LaunchOptions, session: Session?,
                             themes: [String], theme: String) -> WorkbenchState {
        var state = WorkbenchState(models: models, text: options.text ?? sampleText, themes: themes, theme: theme)
        if let session {
            state.restore(session)
            state.theme = theme
            state.sessionPath = options.sessionFile
            if let text = options.text { state.editor.setText(text) }
        }
        if let topK = options.topK { state.topK = topK }
        if let format = options.exportFormat { state.exportFormat = format }
        return state
    }
}

extension WorkbenchLaunch {
    /// The autosave to offer back at start: only when neither `--session` nor `--text` says what to open,
    /// and only when it holds work (`Autosave.hasWork`), so a fresh start is never "restored".
    public static func restorable(_ autosave: Autosave?, options: LaunchOptions) -> Autosave? {
        guard options.sessionFile == nil, options.text == nil, let autosave, autosave.hasWork() else { return nil }
        return autosave
    }

    /// The first state with the autosave's work on screen (its text, history, notes, selections and the
    /// session file Ctrl-S writes to; `--top-k` still wins) and a notice saying so; Ctrl-Z swaps it for the
    /// fresh start and back until the work changes. `theme` is chosen by the caller (flag, then the autosave's).
    public static func state(models: [ModelInfo], options: LaunchOptions, restoring autosave: Autosave,
                             themes: [String], theme: String, now: Date, timeZone: TimeZone = .current) -> WorkbenchState {
        let fresh = state(models: models, options: options, session: nil, themes: themes, theme: theme)
        var restored = fresh
        restored.restore(autosave.session)
        restored.theme = theme
        restored.sessionPath = autosave.sessionPath
        if let topK = options.topK { restored.topK = topK }
        if let format = options.exportFormat { restored.exportFormat = format }
        let notice = autosave.restoredNotice(now: now, timeZone: timeZone)
        let when = Autosave.formatTime(autosave.savedAt, now: now, timeZone: timeZone)
        restored.notice = Notice(notice)
        restored.restoreSwap = RestoreSwap(other: fresh.session, otherSessionPath: nil, restoredNotice: notice,
                                           freshNotice: "Started fresh. Ctrl-Z: back to your work from \(when)")
        return restored
    }
}
