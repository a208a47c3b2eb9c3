/// A colour as red, green and blue; terminals with fewer colours get the nearest one they have.
public struct RGB: Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// Parses "#rrggbb".
    public init?(hex: String) {
        let digits = hex.hasPrefix("#") ? String(hex.dropFirst()) : hex
        guard digits.count == 6, let value = UInt32(digits, radix: 16) else { return nil }
        self.init(UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
    }

    public var description: String {
        "#" + [r, g, b].map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }.joined()
    }

    /// Linear blend: t = 0 gives self, t = 1 gives other.
    public func mixed(with other: RGB, _ t: Double) -> RGB {
        func mix(_ a: UInt8, _ b: UInt8) -> UInt8 { UInt8(max(0, min(255, (Double(a) + (Double(b) - Double(a)) * t).rounded()))) }
        return RGB(mix(r, other.r), mix(g, other.g), mix(b, other.b))
    }

    /// Relative luminance in 0...1, to pick readable text on a coloured cell.
    public var luminance: Double { (0.2126 * Double(r) + 0.7152 * Double(g) + 0.0722 * Double(b)) / 255 }
}

/// How a cell is drawn: colours (nil = the terminal's default) and attributes.
public struct Style: Hashable, Sendable {
    public var fg: RGB?
    public var bg: RGB?
    public var bold = false
    public var underline = false
    public var reverse = false

    public init(fg: RGB? = nil, bg: RGB? = nil, bold: Bool = false, underline: Bool = false, reverse: Bool = false) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.underline = underline
        self.reverse = reverse
    }

    public static let plain = Style()
}

/// One screen cell: a character (with any combining marks) and its style; a wide character's second
/// column holds an empty string.
public struct Cell: Hashable, Sendable {
    public var text: String
    public var style: Style

    public init(_ text: String = " ", _ style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

/// A rectangle of cells, in columns and rows.
public struct Rect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width == 0 || height == 0 }

    /// The top `rows` rows, and what is left below them.
    public func splitTop(_ rows: Int) -> (Rect, Rect) {
        let r = max(0, min(height, rows))
        return (Rect(x: x, y: y, width: width, height: r), Rect(x: x, y: y + r, width: width, height: height - r))
    }

    /// The left `columns` columns, and what is left to their right.
    public func splitLeft(_ columns: Int) -> (Rect, Rect) {
        let c = max(0, min(width, columns))
        return (Rect(x: x, y: y, width: c, height: height), Rect(x: x + c, y: y, width: width - c, height: height))
    }

    /// The rectangle without `n` cells on each side.
    public func inset(_ n: Int) -> Rect { Rect(x: x + n, y: y + n, width: width - 2 * n, height: height - 2 * n) }
}

/// What panes draw into: the whole screen as cells. The backend compares two of them and sends only
/// the cells that changed.
public struct CellBuffer: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]
    /// Where the terminal cursor should blink (the editor's cursor), or nil to hide it.
    public var cursor: (x: Int, y: Int)? {
        get { cursorX.map { ($0, cursorY) } }
        set {
            cursorX = newValue?.x
            cursorY = newValue?.y ?? 0
        }
    }
    private var cursorX: Int?
    private var cursorY = 0

    public init(width: Int, height: Int, fill: Cell = Cell()) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public var bounds: Rect { Rect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Fills a rectangle with one cell.
    public mutating func fill(_ rect: Rect, with cell: Cell = Cell()) {
        for y in max(0, rect.y)..<min(height, rect.maxY) {
            for x in max(0, rect.x)..<min(width, rect.maxX) { cells[y * width + x] = cell }
        }
    }

    /// Changes the style of the cells in a rectangle, keeping their text.
    public mutating func restyle(_ rect: Rect, _ change: (inout Style) -> Void) {
        for y in max(0, rect.y)..<min(height, rect.maxY) {
            for x in max(0, rect.x)..<min(width, rect.maxX) { change(&cells[y * width + x].style) }
        }
    }

    /// Writes `text` from (x, y), clipped to `maxWidth` columns and the buffer; returns the columns used.
    /// Wide characters take two columns; combining marks join the character before them.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = .plain, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(width, x + (maxWidth ?? width))
        var column = x
        var last: Int?
        for scalar in text.unicodeScalars {
            let w = columnWidth(scalar)
            if w == 0 {
                if let last, last >= 0 { cells[y * width + last].text.unicodeScalars.append(scalar) }
                continue
            }
            guard column + w <= limit else { break }
            if column >= 0 {
                cells[y * width + column] = Cell(String(scalar), style)
                if w == 2, column + 1 < width { cells[y * width + column + 1] = Cell("", style) }
            }
            last = column
            column += w
        }
        return column - x
    }

    /// The text of every row with trailing spaces removed: what snapshot tests compare.
    public var lines: [String] {
        (0..<height).map { y in
            var line = ""
            for x in 0..<width { line += cells[y * width + x].text }
            while line.last == " " { line.removeLast() }
            return line
        }
    }

    public static func == (a: CellBuffer, b: CellBuffer) -> Bool {
        a.width == b.width && a.height == b.height && a.cells == b.cells && a.cursorX == b.cursorX && a.cursorY == b.cursorY
    }
}

/// Columns a scalar takes in a terminal: 0 for combining marks, 2 for East Asian wide and emoji, else 1.
public func columnWidth(_ scalar: Unicode.Scalar) -> Int {
    let v = scalar.value
    if v < 0x300 { return 1 }
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .enclosingMark: return 0
    case .format where v == 0x200D || v == 0x200B: return 0
    default: break
    }
    if (0xFE00...0xFE0F).contains(v) { return 0 }
    let wide: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
        0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6,
        0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x1FA70...0x1FAFF, 0x20000...0x3FFFD,
    ]
    return wide.contains { $0.contains(v) } ? 2 : 1
}

/// Columns a string takes.
public func columnWidth(_ text: String) -> Int { text.unicodeScalars.reduce(0) { $0 + columnWidth($1) } }

/// `text` cut to at most `width` columns, with "…" when cut.
public func truncated(_ text: String, _ width: Int) -> String {
    guard width > 0 else { return "" }
    if columnWidth(text) <= width { return text }
    var out = ""
    var used = 0
    for scalar in text.unicodeScalars {
        let w = columnWidth(scalar)
        if used + w > width - 1 { break }
        out.unicodeScalars.append(scalar)
        used += w
    }
    return out + "…"
}

/// `text` padded with spaces (or cut) to exactly `width` columns.
public func padded(_ text: String, _ width: Int) -> String {
    let t = truncated(text, width)
    return t + String(repeating: " ", count: max(0, width - columnWidth(t)))
}

/// `text` right-aligned in `width` columns.
public func rightAligned(_ text: String, _ width: Int) -> String {
    let t = truncated(text, width)
    return String(repeating: " ", count: max(0, width - columnWidth(t))) + t
}
