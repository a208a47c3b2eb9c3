/// One key press as the workbench understands it, independent of the terminal library that read it.
public enum Key: Hashable, Sendable {
    /// A printable character (already decoded from UTF-8).
    case char(Character)
    /// Control plus a letter, lower-case (`.ctrl("c")` is Ctrl-C).
    case ctrl(Character)
    /// Alt (or Esc then the key) plus a character.
    case alt(Character)
    case enter, tab, backTab, backspace, delete, escape
    case up, down, left, right, home, end, pageUp, pageDown
    case ctrlLeft, ctrlRight
    /// A function key, F1 = `.function(1)`.
    case function(Int)

    /// How the help overlay and README spell this key.
    public var label: String {
        switch self {
        case .char(" "): return "Space"
        case .char(let c): return String(c)
        case .ctrl(let c): return "Ctrl-" + String(c).uppercased()
        case .alt(let c): return "Alt-" + String(c)
        case .enter: return "Enter"
        case .tab: return "Tab"
        case .backTab: return "Shift-Tab"
        case .backspace: return "Backspace"
        case .delete: return "Delete"
        case .escape: return "Esc"
        case .up: return "Up"
        case .down: return "Down"
        case .left: return "Left"
        case .right: return "Right"
        case .home: return "Home"
        case .end: return "End"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .ctrlLeft: return "Ctrl-Left"
        case .ctrlRight: return "Ctrl-Right"
        case .function(let n): return "F\(n)"
        }
    }
}
