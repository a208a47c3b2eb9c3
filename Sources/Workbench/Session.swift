import RoBERTa
import FileSupport
import Figures
import Foundation

/// A saved exploration: models, sentence history, selections and notes (sessions/NAME.json).
public struct Session: Codable, Equatable, Sendable {
    public var version = 1
    /// Model directories as the user named them.
    public var models: [String]
    public var activeModel = 0
    public var compare = false
    public var text: String
    public var history: [String] = []
    public var topK = 5
    public var focus: Pane = .editor
    public var selectedMask = 0
    public var selectedCandidate = 0
    public var selectedToken = 0
    public var layer = 0
    public var head = 0
    public var attentionMode: AttentionMode = .head
    /// What the heatmap shows: weights, norms or rollout.
    public var attentionValues: AttentionValues = .weights
    /// The active model's knocked-out heads as "layer.head", counted from 1 ("2.3").
    public var knockout: [String] = []
    public var theme: String?
    public var notes = ""
    /// What F9 writes figures as ("svg", "pdf", "png", "html", "json", "csv"); absent means svg, so sessions saved
    /// before it existed (and those that keep the default) read and write as before.
    public var exportFormat: String?

    public init(models: [String], text: String) {
        self.models = models
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case version, models, activeModel, compare, text, history, topK, focus, selectedMask, selectedCandidate
        case selectedToken, layer, head, attentionMode, attentionValues, knockout, theme, notes, exportFormat
    }

    /// Every field but `text` may be missing, so hand-written sessions stay short.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        models = try c.decodeIfPresent([String].self, forKey: .models) ?? []
        activeModel = try c.decodeIfPresent(Int.self, forKey: .activeModel) ?? 0
        compare = try c.decodeIfPresent(Bool.self, forKey: .compare) ?? false
        text = try c.decode(String.self, forKey: .text)
        history = try c.decodeIfPresent([String].self, forKey: .history) ?? []
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? 5
        focus = try c.decodeIfPresent(Pane.self, forKey: .focus) ?? .editor
        selectedMask = try c.decodeIfPresent(Int.self, forKey: .selectedMask) ?? 0
        selectedCandidate = try c.decodeIfPresent(Int.self, forKey: .selectedCandidate) ?? 0
        selectedToken = try c.decodeIfPresent(Int.self, forKey: .selectedToken) ?? 0
        layer = try c.decodeIfPresent(Int.self, forKey: .layer) ?? 0
        head = try c.decodeIfPresent(Int.self, forKey: .head) ?? 0
        attentionMode = try c.decodeIfPresent(AttentionMode.self, forKey: .attentionMode) ?? .head
        attentionValues = try c.decodeIfPresent(AttentionValues.self, forKey: .attentionValues) ?? .weights
        knockout = try c.decodeIfPresent([String].self, forKey: .knockout) ?? []
        theme = try c.decodeIfPresent(String.self, forKey: .theme)
        notes = try c.decodeIfPresent(String.self, forKey: .notes) ?? ""
        exportFormat = try c.decodeIfPresent(String.self, forKey: .exportFormat)
    }

    /// Reads a session file; errors name the file.
    public static func load(from path: String) throws -> Session {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SessionError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        do {
            return try JSONDecoder().decode(Session.self, from: data)
        } catch {
            throw SessionError.invalid(path: path, reason: JSONProblem.describe(error, in: data))
        }
    }

    /// The session's JSON, keys sorted and indented so that saved sessions diff well.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Writes the session atomically (`AtomicFile`): a crash leaves either the old file or the new one.
    public func save(to path: String) throws {
        let data: Data
        do { data = try encoded() } catch { throw SessionError.unwritable(path: path, reason: String(describing: error)) }
        do { try AtomicFile.write(data, to: path) } catch { throw SessionError.unwritable(path: path, reason: error.reason) }
    }
}

/// Why a session could not be read or written.
public enum SessionError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case invalid(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read session \(path): \(reason)"
        case .invalid(let path, let reason): return "session \(path) is not a valid session file: \(reason)"
        case .unwritable(let path, let reason): return "cannot save session \(path): \(reason)"
        }
    }
}

extension WorkbenchState {
    /// The exploration as a session.
    public var session: Session {
        var s = Session(models: models.map(\.path), text: text)
        s.activeModel = activeModel
        s.compare = compare
        s.history = history
        s.topK = topK
        s.focus = focus
        s.selectedMask = selectedMask
        s.selectedCandidate = selectedCandidate
        s.selectedToken = selectedToken
        s.layer = layer
        s.head = head
        s.attentionMode = attentionMode
        s.attentionValues = attentionValues
        s.knockout = knockout.sorted().map(\.description)
        s.theme = theme
        s.notes = notes
        s.exportFormat = exportFormat == .svg ? nil : exportFormat.rawValue
        return s
    }

    /// Takes over a session's text and selections (the models are loaded by the caller).
    public mutating func restore(_ s: Session) {
        editor.setText(s.text)
        history = s.history
        activeModel = models.indices.contains(s.activeModel) ? s.activeModel : 0
        compare = s.compare && models.count > 1
        topK = max(1, s.topK)
        focus = s.focus
        selectedMask = max(0, s.selectedMask)
        selectedCandidate = max(0, s.selectedCandidate)
        selectedToken = max(0, s.selectedToken)
        layer = max(0, min(s.layer, (model?.layers ?? 1) - 1))
        head = max(0, min(s.head, (model?.heads ?? 1) - 1))
        attentionMode = s.attentionMode
        attentionValues = s.attentionValues
        // Heads this model does not have (another model, a hand-edited file) are left out rather than failing every run.
        let heads = Set(s.knockout.compactMap { name -> HeadRef? in
            let parts = name.split(separator: ".")
            guard parts.count == 2, let l = Int(parts[0]), let h = Int(parts[1]), let model,
                  (1...model.layers).contains(l), (1...model.heads).contains(h) else { return nil }
            return HeadRef(layer: l - 1, head: h - 1)
        })
        knockouts = heads.isEmpty ? [:] : [activeModel: heads]
        if let t = s.theme, themes.contains(t) { theme = t }
        notes = s.notes
        // A format this version does not write (a hand-edited file) leaves the default rather than failing the start.
        exportFormat = s.exportFormat.flatMap { FigureFormat(rawValue: $0.lowercased()) } ?? .svg
    }
}
