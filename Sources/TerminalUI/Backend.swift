import Foundation
import Workbench

/// What the app loop needs from a terminal: its size, a way to draw a frame, and the keys typed.
public protocol TerminalBackend: AnyObject {
    /// Columns and rows.
    var size: (width: Int, height: Int) { get }
    /// Shows `buffer`; a real terminal only sends what changed since the last frame.
    func draw(_ buffer: CellBuffer)
    /// Waits at most `timeout` seconds for input and returns every event available; returns early, maybe
    /// with no events, when `wake` is called.
    func poll(timeout: Double) -> [TerminalEvent]
    /// Makes a `poll` that is waiting (or the next one) return now. Safe from any thread.
    func wake()
}

/// Something that happened at the terminal.
public enum TerminalEvent: Equatable, Sendable {
    case key(Key)
    /// Several characters at once (a paste), inserted as one edit.
    case paste(String)
    case resized
    /// Leave cleanly (a test's or the bench's end of input).
    case terminate
    /// A signal asked the program to end (SIGTERM, SIGHUP, SIGINT; SIGHUP also when the terminal went away):
    /// leave cleanly, then die of it (`WorkbenchApp.endedBySignal`).
    case signal(Int32)
}

/// A terminal in memory for tests: a fixed size, scripted input, and every frame drawn kept.
public final class TestBackend: TerminalBackend {
    public var size: (width: Int, height: Int)
    public private(set) var frames: [CellBuffer] = []
    /// Input still to be delivered, one batch per poll.
    public var script: [[TerminalEvent]]

    public init(_ width: Int, _ height: Int, script: [[TerminalEvent]] = []) {
        size = (width, height)
        self.script = script
    }

    public func draw(_ buffer: CellBuffer) { frames.append(buffer) }

    public func poll(timeout: Double) -> [TerminalEvent] {
        script.isEmpty ? [] : script.removeFirst()
    }

    /// The last frame's lines.
    public var lines: [String] { frames.last?.lines ?? [] }

    /// Scripted input needs no waking; counted so tests can see the mailbox asked for it.
    public private(set) var wakes = 0
    private let wakeLock = NSLock()
    public func wake() {
        wakeLock.lock()
        wakes += 1
        wakeLock.unlock()
    }
}
