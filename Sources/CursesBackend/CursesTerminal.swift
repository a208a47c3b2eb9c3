import CNcursesw
import Foundation
import TerminalUI
import Workbench

/// How many colours the terminal can show, which decides how theme colours are sent.
public enum ColorDepth: String, Sendable {
    /// NO_COLOR, or a terminal without colours: attributes only.
    case none
    case ansi8
    case xterm256
    /// 24-bit colour, on terminals whose terminfo says so (TERM=xterm-direct, tmux-direct...).
    case direct
}

/// The only code that talks to ncurses: opens the screen, draws the cells that changed since the last
/// frame, reads keys, follows resizes, and gives the terminal back on every way out.
public final class CursesTerminal: TerminalBackend {
    private let window: OpaquePointer
    private var previous: CellBuffer?
    private var pairs: [PairKey: Int32] = [:]
    public let colorDepth: ColorDepth
    private var closed = false
    /// A self-pipe: `wake` writes a byte, `poll` waits on it beside the keyboard.
    private let wakeRead: Int32, wakeWrite: Int32
    private let wakeLock = NSLock()
    private var pipeClosed = false

    struct PairKey: Hashable {
        var fg: Int32
        var bg: Int32
    }

    /// Opens the screen. With `colors: false` (NO_COLOR) nothing but attributes is drawn.
    public init(colors: Bool) throws {
        if let locale = setlocale(LC_ALL, ""), !String(cString: locale).uppercased().contains("UTF") {
            // Box drawing and the heatmap need UTF-8 output even where LANG is unset.
            setlocale(LC_ALL, "C.UTF-8")
        }
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else { throw CursesError.notATerminal }
        setenv("ESCDELAY", "25", 0)
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CursesError.cannotStart }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        (wakeRead, wakeWrite) = (fds[0], fds[1])
        CrashRestore.saveModes()
        guard let screen = initscr() else {
            Glibc.close(fds[0]); Glibc.close(fds[1])
            throw CursesError.cannotStart
        }
        window = OpaquePointer(screen)
        // From here on every signal that can end the process gives the terminal back (Signals.swift).
        CrashRestore.install(wake: wakeWrite)
        raw()
        noecho()
        nonl()
        keypad(screen, true)
        set_escdelay(25)
        curs_set(0)
        if colors, has_colors() {
            start_color()
            use_default_colors()
            let count = Self.terminfoColors()
            if count >= 0x100_0000 {
                colorDepth = .direct
            } else if count >= 256 {
                colorDepth = .xterm256
            } else {
                colorDepth = .ansi8
            }
        } else {
            colorDepth = .none
        }
    }

    deinit { close() }

    /// The terminfo "colors" capability (the COLORS global, read without touching shared C state).
    static func terminfoColors() -> Int {
        let value = "colors".withCString { tigetnum(UnsafeMutablePointer(mutating: $0)) }
        return Int(value)
    }

    /// Gives the terminal back: leaves curses mode (which also turns keypad transmit off), shows the
    /// cursor, puts the earlier signal handlers back. Safe to call more than once.
    public func close() {
        guard !closed else { return }
        closed = true
        curs_set(1)
        endwin()
        CrashRestore.uninstall()
        wakeLock.lock()
        pipeClosed = true
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        wakeLock.unlock()
    }

    private var screen: UnsafeMutablePointer<WINDOW> { UnsafeMutablePointer(window) }

    public var size: (width: Int, height: Int) {
        (Int(getmaxx(screen)), Int(getmaxy(screen)))
    }

    public func draw(_ buffer: CellBuffer) {
        let full = previous.map { $0.width != buffer.width || $0.height != buffer.height } ?? true
        if full { werase(screen) }
        for y in 0..<buffer.height {
            for x in 0..<buffer.width {
                let cell = buffer[x, y]
                if !full, let previous, previous[x, y] == cell { continue }
                if cell.text.isEmpty { continue }  // the second column of a wide character
                put(cell, x: x, y: y)
            }
        }
        if let cursor = buffer.cursor {
            curs_set(1)
            wmove(screen, Int32(cursor.y), Int32(cursor.x))
        } else {
            curs_set(0)
        }
        wrefresh(screen)
        previous = buffer
    }

    private func put(_ cell: Cell, x: Int, y: Int) {
        var attributes: attr_t = 0
        if cell.style.bold { attributes |= attr_t(1) << 21 }       // A_BOLD
        if cell.style.underline { attributes |= attr_t(1) << 17 }  // A_UNDERLINE
        if cell.style.reverse { attributes |= attr_t(1) << 18 }    // A_REVERSE
        var pair = pairNumber(fg: cell.style.fg, bg: cell.style.bg)
        var characters: [wchar_t] = cell.text.unicodeScalars.prefix(4).map { wchar_t(bitPattern: $0.value) }
        if characters.isEmpty { characters = [wchar_t(32)] }
        characters.append(0)
        var complex = cchar_t()
        setcchar(&complex, characters, attributes, 0, &pair)
        wmove(screen, Int32(y), Int32(x))
        wadd_wch(screen, &complex)
    }

    /// The colour pair for two theme colours, allocated once.
    private func pairNumber(fg: RGB?, bg: RGB?) -> Int32 {
        guard colorDepth != .none else { return 0 }
        let key = PairKey(fg: colorNumber(fg), bg: colorNumber(bg))
        if key.fg == -1, key.bg == -1 { return 0 }
        if let pair = pairs[key] { return pair }
        let pair = alloc_pair(key.fg, key.bg)
        let usable = pair > 0 ? pair : 0
        pairs[key] = usable
        return usable
    }

    /// A theme colour as the terminal's colour number (-1 for its default).
    func colorNumber(_ color: RGB?) -> Int32 {
        guard let color else { return -1 }
        switch colorDepth {
        case .none: return -1
        case .direct: return Int32(color.r) << 16 | Int32(color.g) << 8 | Int32(color.b)
        case .xterm256: return Int32(Palette.xterm256(color))
        case .ansi8: return Int32(Palette.ansi8(color))
        }
    }

    public func poll(timeout: Double) -> [TerminalEvent] {
        // Keys ncurses has already read into its buffer come first; then wait on the keyboard and the
        // wake pipe together, so a result from the background is drawn at once, not at the timeout.
        var events = readEvents()
        if !events.isEmpty { return events }
        var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = Glibc.poll(&fds, 2, Int32(max(0, timeout * 1000)))  // EINTR (a signal, a resize) just returns
        if fds[1].revents != 0 {
            var drain = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &drain, drain.count) > 0 {}
        }
        events = readEvents()
        // The terminal went away without a SIGHUP reaching us (nohup, a closed pty): end as SIGHUP would,
        // rather than spin on a descriptor that is always "ready".
        if events.isEmpty, fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { events.append(.signal(SIGHUP)) }
        return events
    }

    public func wake() {
        // From background threads: never write once close() has closed (and the system may reuse) the fd.
        wakeLock.lock()
        defer { wakeLock.unlock() }
        guard !pipeClosed else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // a full pipe already holds a wake-up
    }

    /// Every event available now, without waiting.
    private func readEvents() -> [TerminalEvent] {
        var events: [TerminalEvent] = []
        wtimeout(screen, 0)
        while true {
            let signal = terminationSignal.load(ordering: .acquiring)
            if signal != 0 {
                events.append(.signal(signal))
                return events
            }
            var character: wint_t = 0
            let status = wget_wch(screen, &character)
            if status == ERR { break }
            if status == KEY_CODE_YES {
                if let event = Self.functionKey(Int32(character)) { events.append(event) }
            } else if let key = readCharacter(UInt32(character)) {
                events.append(.key(key))
            }
        }
        return Self.mergingPastes(events)
    }

    /// A character read as such: control keys, Esc (alone or as Alt), or text.
    private func readCharacter(_ value: UInt32) -> Key? {
        switch value {
        case 13, 10: return .enter
        case 9: return .tab
        case 127, 8: return .backspace
        case 27:
            wtimeout(screen, 0)
            var next: wint_t = 0
            let status = wget_wch(screen, &next)
            if status == OK, let scalar = Unicode.Scalar(UInt32(next)), next >= 32 { return .alt(Character(scalar)) }
            return .escape
        case 1...26: return .ctrl(Character(Unicode.Scalar(value + 96) ?? "a"))
        case 0..<32: return nil
        default:
            guard let scalar = Unicode.Scalar(value) else { return nil }
            return .char(Character(scalar))
        }
    }

    static func functionKey(_ code: Int32) -> TerminalEvent? {
        switch code {
        case KEY_RESIZE: return .resized
        case KEY_UP: return .key(.up)
        case KEY_DOWN: return .key(.down)
        case KEY_LEFT: return .key(.left)
        case KEY_RIGHT: return .key(.right)
        case KEY_HOME: return .key(.home)
        case KEY_END: return .key(.end)
        case KEY_PPAGE: return .key(.pageUp)
        case KEY_NPAGE: return .key(.pageDown)
        case KEY_DC: return .key(.delete)
        case KEY_BACKSPACE: return .key(.backspace)
        case KEY_ENTER: return .key(.enter)
        case KEY_BTAB: return .key(.backTab)
        case KEY_F0 + 1...KEY_F0 + 12: return .key(.function(Int(code - KEY_F0)))
        default:
            // Modified arrows have no constants; terminfo names them (kLFT5 is Ctrl-Left).
            guard let name = keyname(code).map({ String(cString: $0) }) else { return nil }
            switch name {
            case "kLFT5", "kLFT3": return .key(.ctrlLeft)
            case "kRIT5", "kRIT3": return .key(.ctrlRight)
            default: return nil
            }
        }
    }

    /// Runs of typed characters read in one go (a paste, or very fast typing) become one edit.
    static func mergingPastes(_ events: [TerminalEvent]) -> [TerminalEvent] {
        var out: [TerminalEvent] = []
        var run = ""
        var runLength = 0
        func flush() {
            if runLength == 1, let c = run.first { out.append(.key(.char(c))) } else if runLength > 1 { out.append(.paste(run)) }
            run = ""
            runLength = 0
        }
        for event in events {
            if case .key(.char(let c)) = event {
                run.append(c)
                runLength += 1
            } else {
                flush()
                out.append(event)
            }
        }
        flush()
        return out
    }
}

/// Why the screen could not be opened.
public enum CursesError: Error, CustomStringConvertible {
    case notATerminal
    case cannotStart

    public var description: String {
        switch self {
        case .notATerminal: return "the workbench needs a terminal on standard input and output"
        case .cannotStart: return "cannot start the terminal screen (is TERM set?)"
        }
    }
}
