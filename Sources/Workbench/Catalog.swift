/// A model the model picker can offer: found in the Hugging Face cache (loadable or not), or known but not
/// downloaded yet. Plain values, filled in by the command from ModelStore's catalogue.
public struct CatalogModel: Equatable, Sendable {
    /// The name to load it by and show (`roberta-base`, `ORG/NAME`).
    public var name: String
    /// The snapshot directory; nil when the model is not on disk.
    public var directory: String?
    public var layers: Int?
    public var hiddenSize: Int?
    /// Bytes on disk, or the download size when not present, as `maskscope models` writes them ("499 MB").
    public var size: String?
    /// The command that fetches it, for models not on disk.
    public var pullCommand: String?
    /// Why it cannot be loaded although it is on disk (not a RoBERTa, files missing); nil when it can.
    public var problem: String?

    public init(name: String, directory: String?, layers: Int? = nil, hiddenSize: Int? = nil, size: String? = nil,
                pullCommand: String? = nil, problem: String? = nil) {
        self.name = name
        self.directory = directory
        self.layers = layers
        self.hiddenSize = hiddenSize
        self.size = size
        self.pullCommand = pullCommand
        self.problem = problem
    }

    /// Whether the files are on disk.
    public var isPresent: Bool { directory != nil }
}

/// Load a model found on disk, off the UI thread; the result comes back as `.modelLoaded` or `.modelLoadFailed`.
public struct ModelLoadRequest: Equatable, Sendable {
    /// The catalogue name, kept as the model's name in sessions.
    public var name: String
    public var directory: String

    public init(name: String, directory: String) {
        self.name = name
        self.directory = directory
    }
}

/// One line of the model picker.
public enum PickerRow: Equatable, Sendable {
    /// A loaded model, by index in `WorkbenchState.models`.
    case loaded(Int)
    /// A model on disk that is not loaded, by index in `WorkbenchState.catalog`.
    case found(Int)
    /// A known model that is not downloaded, by index in `WorkbenchState.catalog`.
    case pullable(Int)
}

/// Edits of a one-line text field (the notes editor).
public enum LineEdit: Equatable, Sendable {
    case insert(String)
    case deleteBackward, deleteForward, deleteWordBackward, clear
    case move(CursorMotion)
}

extension LineEditor {
    /// Applies one edit.
    public mutating func apply(_ edit: LineEdit) {
        switch edit {
        case .insert(let text): insert(text)
        case .deleteBackward: deleteBackward()
        case .deleteForward: deleteForward()
        case .deleteWordBackward: deleteWordBackward()
        case .clear: clear()
        case .move(.left): moveLeft()
        case .move(.right): moveRight()
        case .move(.home): moveHome()
        case .move(.end): moveEnd()
        case .move(.wordLeft): moveWordLeft()
        case .move(.wordRight): moveWordRight()
        }
    }
}

extension WorkbenchState {
    /// Whether catalogue entry `entry` is one of the loaded models (same directory or same name).
    public func isLoaded(_ entry: CatalogModel) -> Bool {
        models.contains { info in
            (entry.directory != nil && info.directory == entry.directory) || info.path == entry.name || info.name == entry.name
        }
    }

    /// The picker's lines: the loaded models, the other models on disk, then the ones to pull.
    public var pickerRows: [PickerRow] {
        var rows = models.indices.map { PickerRow.loaded($0) }
        for (i, entry) in catalog.enumerated() where entry.isPresent && !isLoaded(entry) { rows.append(.found(i)) }
        for (i, entry) in catalog.enumerated() where !entry.isPresent && !isLoaded(entry) { rows.append(.pullable(i)) }
        return rows
    }
}
