import Dispatch
import Foundation
import RoBERTa
import TerminalUI
import Workbench

/// What `maskscope bench` measures of the workbench itself: a sentence typed into the real loop (reducer,
/// screen rendering, inference scheduler, the model on its own threads) on an in-memory 80x24 terminal,
/// one key every `interval` seconds, and how long each key waited before a frame showing it was drawn,
/// while inference kept the cores busy. Only the terminal is simulated; everything else is the program.
struct TypingMeasurement {
    var keys: Int
    var interval: Double
    /// Key due -> the frame that shows it drawn, per key, sorted.
    var keyToFrame: [Double]
    /// The last key due -> the frame with the answer for the whole sentence drawn.
    var lastKeyToAnswer: Double
    /// Answers that reached the screen while typing (older ones are dropped as stale by design).
    var answersShown: Int

    static func run(model: RobertaModel, text: String, interval: Double) -> TypingMeasurement {
        let info = ModelInfo(model, name: model.directory.lastPathComponent, path: model.directory.path, directory: model.directory.path)
        let state = WorkbenchState(models: [info], text: "", themes: ["mono"], theme: "mono")
        let mailbox = Mailbox()
        let scheduler = InferenceScheduler(models: [model]) { request, analysis in
            mailbox.post(.inferenceFinished(id: request.id, model: request.model, analysis: analysis))
        }
        let start = monotonicSeconds() + 0.2  // the first key after the opening frame
        let keys = text.enumerated().map { (time: start + Double($0.offset) * interval, key: Key.char($0.element)) }
        let backend = TypingBackend(keys: keys)
        let app = WorkbenchApp(state: state, backend: backend, themes: [Theme.monochromeFallback],
                               runInference: { scheduler.submit($0) }, saveSession: { _, _ in "" }, mailbox: mailbox)
        var answers = 0
        var lastShown: Int?
        backend.onDraw = { [unowned app] in
            let state = app.state
            if let shown = state.shownRequest[0], shown != lastShown, state.results[0]?.masks.isEmpty == false {
                lastShown = shown
                answers += 1
            }
            // (the text as the editor holds it: a tab or newline typed may have been turned into a space)
            return state.shownRequest[0] == state.latestRequest[0] && state.results[0]?.text == state.text
        }
        app.run()
        return TypingMeasurement(keys: keys.count, interval: interval, keyToFrame: backend.latencies.sorted(),
                                 lastKeyToAnswer: (backend.answerDrawnAt ?? .nan) - (keys.last?.time ?? start), answersShown: answers)
    }
}

/// A terminal that types keys at given times and notes when each shows on screen.
private final class TypingBackend: TerminalBackend {
    let size = (width: 80, height: 24)
    private var due: [(time: Double, key: Key)]
    private var undrawn: [Double] = []
    private(set) var latencies: [Double] = []
    private(set) var answerDrawnAt: Double?
    /// After each frame: whether it shows the answer for the whole sentence.
    var onDraw: () -> Bool = { false }
    private let woken = DispatchSemaphore(value: 0)

    private let giveUpAt: Double

    init(keys: [(time: Double, key: Key)]) {
        due = keys
        giveUpAt = (keys.last?.time ?? monotonicSeconds()) + 30
    }

    func draw(_ buffer: CellBuffer) {
        let now = monotonicSeconds()
        latencies += undrawn.map { now - $0 }
        undrawn = []
        let showsFinalAnswer = onDraw()
        if due.isEmpty, answerDrawnAt == nil, showsFinalAnswer { answerDrawnAt = now }
    }

    func poll(timeout: Double) -> [TerminalEvent] {
        if answerDrawnAt != nil { return [.terminate] }
        var now = monotonicSeconds()
        if due.isEmpty, now > giveUpAt { return [.terminate] }  // no answer 30 s after the last key: reported as NaN
        if let next = due.first, next.time > now {
            _ = woken.wait(timeout: .now() + min(timeout, next.time - now))
            now = monotonicSeconds()
        } else if due.isEmpty {
            _ = woken.wait(timeout: .now() + timeout)
            return []
        }
        // One key a poll, so that each is drawn (and timed) on its own.
        guard let next = due.first, next.time <= now else { return [] }
        due.removeFirst()
        undrawn.append(next.time)
        return [.key(next.key)]
    }

    func wake() { woken.signal() }
}
