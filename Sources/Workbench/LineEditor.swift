/// A one-line text editor over Unicode scalars, so its positions match the tokenizer's offsets.
///
/// The cursor never stops between a base character and the combining marks that follow it.
public struct LineEditor: Equatable, Sendable {
    /// The text as Unicode scalars.
    public private(set) var scalars: [Unicode.Scalar]
    /// Cursor position in scalars, 0...scalars.count.
    public private(set) var cursor: Int

    /// Creates an editor holding `text` with the cursor at its end.
    public init(_ text: String = "") {
        scalars = Array(text.unicodeScalars)
        cursor = scalars.count
    }

    /// The whole text.
    public var text: String {
        var s = String.UnicodeScalarView()
        s.append(contentsOf: scalars)
        return String(s)
    }

    /// Replaces the text and puts the cursor at its end.
    public mutating func setText(_ text: String) {
        scalars = Array(text.unicodeScalars)
        cursor = scalars.count
    }

    /// Inserts text at the cursor; line breaks and tabs become spaces (the editor holds one line).
    public mutating func insert(_ text: String) {
        let clean = text.unicodeScalars.compactMap { s -> Unicode.Scalar? in
            if s == "\n" || s == "\r" || s == "\t" { return " " }
            if s.value < 0x20 || s.value == 0x7F { return nil }
            return s
        }
        scalars.insert(contentsOf: clean, at: cursor)
        cursor += clean.count
    }

    /// Deletes the character before the cursor.
    public mutating func deleteBackward() {
        guard cursor > 0 else { return }
        let start = previousStop(cursor)
        scalars.removeSubrange(start..<cursor)
        cursor = start
    }

    /// Deletes the character under the cursor.
    public mutating func deleteForward() {
        guard cursor < scalars.count else { return }
        scalars.removeSubrange(cursor..<nextStop(cursor))
    }

    /// Deletes from the start of the word before the cursor to the cursor.
    public mutating func deleteWordBackward() {
        let start = wordStart(before: cursor)
        scalars.removeSubrange(start..<cursor)
        cursor = start
    }

    /// Empties the line.
    public mutating func clear() { setText("") }

    public mutating func moveLeft() { cursor = previousStop(cursor) }
    public mutating func moveRight() { cursor = nextStop(cursor) }
    public mutating func moveHome() { cursor = 0 }
    public mutating func moveEnd() { cursor = scalars.count }
    public mutating func moveWordLeft() { cursor = wordStart(before: cursor) }
    public mutating func moveWordRight() {
        var i = cursor
        while i < scalars.count, !isWordScalar(scalars[i]) { i += 1 }
        while i < scalars.count, isWordScalar(scalars[i]) { i += 1 }
        cursor = i
    }

    /// Moves the cursor to a scalar position (clamped).
    public mutating func moveTo(_ position: Int) { cursor = max(0, min(scalars.count, position)) }

    /// Replaces scalars `range` by `text`, with the cursor after the replacement.
    public mutating func replace(_ range: Range<Int>, with text: String) {
        let lower = max(0, min(scalars.count, range.lowerBound))
        let upper = max(lower, min(scalars.count, range.upperBound))
        let new = Array(text.unicodeScalars)
        scalars.replaceSubrange(lower..<upper, with: new)
        cursor = lower + new.count
    }

    func wordStart(before position: Int) -> Int {
        var i = position
        while i > 0, !isWordScalar(scalars[i - 1]) { i -= 1 }
        while i > 0, isWordScalar(scalars[i - 1]) { i -= 1 }
        return i
    }

    func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        s.properties.isAlphabetic || s.properties.numericType != nil || s == "_" || s == "<" || s == ">"
    }

    func previousStop(_ position: Int) -> Int {
        var i = max(0, position - 1)
        while i > 0, isCombining(scalars[i]) { i -= 1 }
        return i
    }

    func nextStop(_ position: Int) -> Int {
        var i = min(scalars.count, position + 1)
        while i < scalars.count, isCombining(scalars[i]) { i += 1 }
        return i
    }
}

/// Whether a scalar draws on top of the one before it (combining marks, joiners, variation selectors).
public func isCombining(_ s: Unicode.Scalar) -> Bool {
    switch s.properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .spacingMark: return true
    default: return s.value == 0x200D || (0xFE00...0xFE0F).contains(s.value)
    }
}
