import Foundation

/// The workbench's own copy of the exploration (everything a session holds, and where Ctrl-S writes), kept
/// so that no way out loses typed work. The file is a session file with three more keys (`autosavedAt`,
/// `sessionPath`, `endedBy`), so `--session` opens it too.
public struct Autosave: Equatable, Sendable {
    public var session: Session
    /// The session file Ctrl-S writes to, if one was opened or saved.
    public var sessionPath: String?
    /// When the content last changed.
    public var savedAt: Date
    /// How the workbench that wrote it ended: "quit", or the signal's name ("SIGTERM"); nil in the copies
    /// written while it ran, so a file still without it was left by a workbench that could not say
    /// (SIGKILL, a power cut).
    public var endedBy: String?

    public init(session: Session, sessionPath: String? = nil, savedAt: Date, endedBy: String? = nil) {
        self.session = session
        self.sessionPath = sessionPath
        self.savedAt = savedAt
        self.endedBy = endedBy
    }

    /// The state's content as an autosave.
    public init(_ state: WorkbenchState, savedAt: Date) {
        self.init(session: state.session, sessionPath: state.sessionPath, savedAt: savedAt)
    }

    /// How the last workbench ended, when it was not a quit: "quit" is normal and is not mentioned.
    public static let quit = "quit"

    /// "SIGTERM" for SIGTERM: how `endedBy` names a signal.
    public static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT",
            SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGUSR1: "SIGUSR1", SIGSEGV: "SIGSEGV", SIGUSR2: "SIGUSR2", SIGPIPE: "SIGPIPE",
            SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ", SIGVTALRM: "SIGVTALRM",
            SIGPWR: "SIGPWR", SIGSYS: "SIGSYS",
        ]
        return names[number] ?? "signal \(number)"
    }

    /// Where the autosave lives: $MASKSCOPE_AUTOSAVE (a file; "off" turns autosaving off), else
    /// $XDG_STATE_HOME/maskscope/autosave.json, else ~/.local/state/maskscope/autosave.json; nil when off
    /// or when there is no home folder.
    public static func location(environment: [String: String], home: String?) -> String? {
        if let path = environment["MASKSCOPE_AUTOSAVE"], !path.isEmpty { return path == "off" ? nil : path }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/maskscope/autosave.json" }
        guard let home, !home.isEmpty else { return nil }
        return home + "/.local/state/maskscope/autosave.json"
    }

    /// Where the autosave found at start is kept while this run writes its own (see `keepPrevious`).
    public static func previousPath(_ path: String) -> String {
        path.hasSuffix(".json") ? String(path.dropLast(5)) + ".previous.json" : path + ".previous"
    }

    /// Whether it holds work worth offering back: a sentence other than `defaultText`, history or notes.
    public func hasWork(defaultText: String = WorkbenchLaunch.sampleText) -> Bool {
        let text = session.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return (!text.isEmpty && session.text != defaultText) || !session.history.isEmpty || !session.notes.isEmpty
    }

    // MARK: the file

    enum Keys: String, CodingKey {
        case autosavedAt, sessionPath, endedBy
    }

    /// The file's bytes: the session's keys and the autosave's, sorted and indented, ending in "}\n" (the
    /// crash handler relies on that: see `crashEnding`).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(File(autosave: self)) + Data("\n".utf8)
    }

    /// Reads an autosave file; a plain session file reads too (saved now, ended by quitting).
    public static func decode(_ data: Data) throws -> Autosave {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(File.self, from: data).autosave
    }

    /// Reads the autosave at `path`: nil when there is none, an error naming the file when it is unreadable.
    public static func load(from path: String) throws -> Autosave? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw SessionError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        do { return try decode(data) } catch {
            throw SessionError.invalid(path: path, reason: JSONProblem.describe(error, in: data))
        }
    }

    /// What the crash handler writes in place of the last two bytes ("}\n") of `encoded()` to record the
    /// signal: the bytes it writes are prepared beforehand, and it cannot run an encoder.
    public static func crashEnding(signal name: String) -> Data {
        Data(",\n  \"endedBy\" : \"\(name)\"\n}\n".utf8)
    }

    /// The session's keys and the autosave's in one object.
    struct File: Codable {
        var autosave: Autosave

        init(autosave: Autosave) { self.autosave = autosave }

        init(from decoder: Decoder) throws {
            let session = try Session(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            autosave = Autosave(session: session, sessionPath: try c.decodeIfPresent(String.self, forKey: .sessionPath),
                                savedAt: try c.decodeIfPresent(Date.self, forKey: .autosavedAt) ?? Date(),
                                endedBy: try c.decodeIfPresent(String.self, forKey: .endedBy) ?? (c.contains(.autosavedAt) ? nil : quit))
        }

        func encode(to encoder: Encoder) throws {
            try autosave.session.encode(to: encoder)
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(autosave.savedAt, forKey: .autosavedAt)
            try c.encodeIfPresent(autosave.sessionPath, forKey: .sessionPath)
            try c.encodeIfPresent(autosave.endedBy, forKey: .endedBy)
        }
    }

    // MARK: offering it back

    /// "14:02" today, "3 Dec 14:02" on another day.
    public static func formatTime(_ date: Date, now: Date, timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = calendar.isDate(date, inSameDayAs: now) ? "HH:mm" : "d MMM HH:mm"
        return formatter.string(from: date)
    }

    /// The status line after the work was restored at start.
    public func restoredNotice(now: Date, timeZone: TimeZone = .current) -> String {
        let when = Self.formatTime(savedAt, now: now, timeZone: timeZone)
        let how: String
        switch endedBy {
        case Self.quit?: how = ""
        case let signal?: how = " (the workbench was ended by \(signal))"
        case nil: how = " (the workbench did not get to quit)"
        }
        return "Restored your work from \(when)\(how). Ctrl-Z: start fresh"
    }
}
