import CNcursesw
import FileSupport
import Foundation
import Synchronization
import TerminalUI
import Workbench

// Every signal that can end the workbench gives the terminal back and keeps the typed work. Two kinds:
//
// - Requests to end (SIGTERM, SIGHUP, SIGINT): the handler only records the signal and wakes the loop,
//   which quits as `q` does (autosave written, endwin), and the command then dies of the same signal. A
//   second request while the first is being handled takes the immediate path below.
// - Immediate ends (crashes, SIGQUIT, SIGUSR1 and the other signals whose default is to end the process):
//   the handler, on an alternate stack, writes the bytes that reset the terminal (captured at start),
//   restores the termios saved before initscr, writes the autosave's latest bytes (prepared on every
//   change, `CrashSave`), then dies of the signal with the default action (a core dump where that is the
//   default). It only calls async-signal-safe functions: write, open, fsync, close, rename, tcsetattr,
//   sigaction, raise, and lock-free atomic loads.
//
// Our handlers replace those the Swift runtime installs for its backtracer (SIGQUIT, SIGILL, SIGTRAP,
// SIGABRT, SIGFPE, SIGBUS, SIGSEGV): with a terminal on stdin the backtracer is interactive and would wait
// 30 s for a key on a screen it draws over. With SWIFT_BACKTRACE set to a non-interactive mode
// (`interactive=no`, or `timeout=0s`/`none`) the runtime's handler is called after ours has given the
// terminal back, so its backtrace lands on the ordinary screen. SIGKILL and SIGSTOP cannot be caught.

/// The signal that asked the workbench to end (SIGTERM, SIGHUP, SIGINT), 0 until one does; read by `poll`.
let terminationSignal = Atomic<Int32>(0)
/// When it came (CLOCK_MONOTONIC, ns): a second request ends the process at once only when the loop has had
/// two seconds to quit. A hangup often comes twice at once (from tmux or the shell, and from the kernel),
/// and cutting short the autosave the first one is writing would leave a temporary file behind.
let terminationRequestedAt = Atomic<Int>(0)

/// CLOCK_MONOTONIC in nanoseconds (clock_gettime is async-signal-safe).
func monotonicNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// What the crash handler needs, prepared while allocating is still safe: the terminal's modes from before
/// curses changed them, the bytes that reset attributes, keypad transmit mode, the cursor and the alternate
/// screen, and the handlers that were installed before ours (put back when the terminal is closed normally).
enum CrashRestore {
    /// The saved modes. Not a `termios` global: Swift lays one out in `MemoryLayout<termios>.size` bytes, fewer than
    /// the sizeof(struct termios) that tcgetattr writes (AddressSanitizer caught the overflow into the next
    /// globals), so the struct lives in a zeroed buffer with room to spare.
    nonisolated(unsafe) static let modes: UnsafeMutablePointer<termios> = {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        return raw.bindMemory(to: termios.self, capacity: 1)
    }()
    nonisolated(unsafe) static var haveModes = false
    nonisolated(unsafe) static var bytes: UnsafeMutablePointer<UInt8>?
    nonisolated(unsafe) static var byteCount = 0
    nonisolated(unsafe) static var previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    nonisolated(unsafe) static var altStack: UnsafeMutableRawPointer?
    /// Whether the runtime's backtracer runs after ours (SWIFT_BACKTRACE asks for a non-interactive one).
    nonisolated(unsafe) static var chainToRuntime = false
    /// The write end of the app loop's wake pipe (-1 when closed), so a request to end is seen at once.
    nonisolated(unsafe) static var wakeFD: Int32 = -1
    /// Set by the first immediate end, so a second (another thread's fault) goes straight to dying.
    static let handling = Atomic<Int32>(0)

    static let requests = [SIGTERM, SIGHUP, SIGINT]
    static let immediate = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE, SIGSYS, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
                            SIGALRM, SIGVTALRM, SIGXCPU, SIGXFSZ, SIGPWR]
    static var all: [Int32] { requests + immediate }

    /// Captures the modes (before initscr).
    static func saveModes() {
        haveModes = tcgetattr(STDIN_FILENO, modes) == 0
    }

    /// Whether SWIFT_BACKTRACE (read by the runtime at start) makes its backtracer non-interactive.
    static func backtracerIsNonInteractive(_ setting: String?) -> Bool {
        guard let setting else { return false }
        let pairs = setting.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if pairs.contains("enable=no") { return false }
        return pairs.contains("interactive=no") || pairs.contains("timeout=0s") || pairs.contains("timeout=0") || pairs.contains("timeout=none")
    }

    /// Captures the terminfo strings (after initscr) and installs the handlers, on an alternate stack so
    /// that a stack overflow on the main thread still reaches them.
    static func install(wake: Int32) {
        var text: [UInt8] = []
        for name in ["sgr0", "rmkx", "cnorm", "rmcup"] {
            let value = name.withCString { tigetstr(UnsafeMutablePointer(mutating: $0)) }
            if let value, Int(bitPattern: value) != -1 { text += Array(String(cString: value).utf8) }
        }
        text += Array("\r\n".utf8)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: text.count)
        buffer.initialize(from: text, count: text.count)
        bytes = buffer
        byteCount = text.count
        wakeFD = wake
        chainToRuntime = backtracerIsNonInteractive(ProcessInfo.processInfo.environment["SWIFT_BACKTRACE"])
        _ = handling.load(ordering: .relaxed)
        _ = terminationSignal.load(ordering: .relaxed)
        _ = terminationRequestedAt.load(ordering: .relaxed)
        CrashSave.prepare()

        // Keep an alternate stack someone (the Swift runtime) set up already, if it is big enough.
        let size = 64 * 1024
        var current = stack_t()
        let haveStack = sigaltstack(nil, &current) == 0 && current.ss_flags & Int32(SS_DISABLE) == 0 && current.ss_size >= size
        if !haveStack, altStack == nil, let memory = malloc(size) {
            altStack = memory
            var stack = stack_t(ss_sp: memory, ss_flags: 0, ss_size: size)
            _ = sigaltstack(&stack, nil)
        }

        var action = sigaction()
        action.sa_flags = Int32(SA_ONSTACK | SA_SIGINFO)
        sigemptyset(&action.sa_mask)
        action.__sigaction_handler.sa_sigaction = { number, _, _ in
            // A request to end: note it and wake the loop; another one two seconds later (the loop is stuck)
            // ends the process now.
            if terminationSignal.compareExchange(expected: 0, desired: number, ordering: .sequentiallyConsistent).exchanged {
                terminationRequestedAt.store(monotonicNanoseconds(), ordering: .sequentiallyConsistent)
                if CrashRestore.wakeFD >= 0 {
                    var byte: UInt8 = 1
                    _ = write(CrashRestore.wakeFD, &byte, 1)
                }
            } else if monotonicNanoseconds() - terminationRequestedAt.load(ordering: .sequentiallyConsistent) > 2_000_000_000 {
                CrashRestore.end(number, nil, nil)
            }
        }
        for number in requests { _ = sigaction(number, &action, previous + Int(number)) }
        action.__sigaction_handler.sa_sigaction = { number, info, context in CrashRestore.end(number, info, context) }
        for number in immediate { _ = sigaction(number, &action, previous + Int(number)) }
    }

    /// The immediate end: terminal, autosave, the runtime's backtracer when it is non-interactive, death.
    static func end(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?) {
        if handling.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged {
            if let bytes { _ = write(STDOUT_FILENO, bytes, byteCount) }
            if haveModes { _ = tcsetattr(STDIN_FILENO, TCSANOW, modes) }
            CrashSave.write(signal: number)
            let earlier = previous[Int(number)]
            if chainToRuntime, earlier.sa_flags & Int32(SA_SIGINFO) != 0, let handler = earlier.__sigaction_handler.sa_sigaction {
                handler(number, info, context)
            }
        }
        // Then die of it the usual way (delivered again once this handler returns).
        _ = signal(number, SIG_DFL)
        _ = raise(number)
    }

    /// Puts the earlier handlers back (the terminal is given back already).
    static func uninstall() {
        for number in all { _ = sigaction(number, previous + Int(number), nil) }
        wakeFD = -1
    }
}

/// The autosave's latest bytes, kept where the crash handler can write them without allocating or
/// encoding: a block [byte count][bytes] published with an atomic store on every change of the content.
/// The handler writes them under a temporary name beside the autosave and renames it over the autosave,
/// so a crash in the middle leaves the previous autosave whole. A block is freed two publications later,
/// so a handler still writing one on another thread is not cut short by the next keystroke.
public enum CrashSave {
    static let latest = Atomic<Int>(0)
    nonisolated(unsafe) static var retired: [Int] = []
    nonisolated(unsafe) static var finalPath: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) static var temporaryPath: UnsafeMutablePointer<CChar>?
    /// Per signal number: a block [byte count][bytes] of `Autosave.crashEnding` naming it.
    nonisolated(unsafe) static var endings: UnsafeMutablePointer<UnsafeMutableRawPointer?> = {
        let table = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 65)
        table.initialize(repeating: nil, count: 65)
        return table
    }()
    private static let lock = NSLock()

    /// Makes the crash handler write the autosave to `path` (whose folder must exist).
    public static func configure(path: String) {
        lock.lock()
        defer { lock.unlock() }
        finalPath = strdup(path)
        temporaryPath = strdup(AtomicFile.temporaryPath(for: path, suffix: "crash"))
    }

    /// The autosave's bytes as they are now (`Autosave.encoded()`, ending in "}\n").
    public static func publish(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        let block = makeBlock(data)
        let old = latest.exchange(Int(bitPattern: block), ordering: .acquiringAndReleasing)
        if old != 0 { retired.append(old) }
        while retired.count > 2 { free(UnsafeMutableRawPointer(bitPattern: retired.removeFirst())) }
    }

    /// Prepares the endings that name each signal (called when the handlers are installed).
    static func prepare() {
        lock.lock()
        defer { lock.unlock() }
        // Touch every static the handler reads, so none is first initialised (swift_once) inside it.
        _ = latest.load(ordering: .relaxed)
        _ = (finalPath, temporaryPath)
        for number in CrashRestore.immediate + CrashRestore.requests where endings[Int(number)] == nil {
            endings[Int(number)] = makeBlock(Autosave.crashEnding(signal: Autosave.signalName(number)))
        }
    }

    static func makeBlock(_ data: Data) -> UnsafeMutableRawPointer {
        let block = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Int>.size + data.count, alignment: MemoryLayout<Int>.alignment)
        block.storeBytes(of: data.count, as: Int.self)
        data.copyBytes(to: (block + MemoryLayout<Int>.size).assumingMemoryBound(to: UInt8.self), count: data.count)
        return block
    }

    /// From the signal handler: the latest bytes without their closing "}\n", the ending naming the signal,
    /// fsync, rename. Async-signal-safe: no allocation, no locks.
    static func write(signal number: Int32) {
        let address = latest.load(ordering: .acquiring)
        guard address != 0, let block = UnsafeMutableRawPointer(bitPattern: address),
              let finalPath, let temporaryPath, number > 0, number < 65, let ending = endings[Int(number)] else { return }
        let count = block.load(as: Int.self)
        guard count >= 2 else { return }
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let complete = writeAll(fd, block + MemoryLayout<Int>.size, count - 2)
            && writeAll(fd, ending + MemoryLayout<Int>.size, ending.load(as: Int.self))
            && fsync(fd) == 0
        _ = close(fd)
        if complete { _ = rename(temporaryPath, finalPath) } else { _ = unlink(temporaryPath) }
    }

    static func writeAll(_ fd: Int32, _ start: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let written = Glibc.write(fd, start + offset, count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}
