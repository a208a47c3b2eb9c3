import Dispatch
import FileSupport
import Figures
import Foundation

/// Draws the figures F9 asks for and writes them under `folder` (exports/ in the current directory), on a thread of
/// its own: a PDF or PNG of a long sentence's heatmap takes a moment, and the loop never waits for it. Each file is
/// named after the view, the model, layer and head and the time (`attention-pocket-teacher-L5H2-20261201-213005.svg`),
/// never replaces a file ("-2", "-3", ... when the name is taken) and is written whole or not at all (`AtomicFile`).
public final class FigureExporter: @unchecked Sendable {
    /// The folder the files go in, created when missing; as the status line names it.
    public let folder: String
    private let clock: @Sendable () -> Date
    private let timeZone: TimeZone
    private let queue = DispatchQueue(label: "maskscope.export", qos: .userInitiated)

    public init(folder: String = "exports", clock: @escaping @Sendable () -> Date = { Date() }, timeZone: TimeZone = .current) {
        self.folder = folder
        self.clock = clock
        self.timeZone = timeZone
    }

    /// Draws and writes `request` in `style` on the exporter's thread, then calls `done` (on that thread) with
    /// `.figureExported` or `.figureExportFailed`. Requests are written one after another, in order.
    public func start(_ request: FigureExportRequest, style: FigureStyle, done: @escaping @Sendable (Action) -> Void) {
        queue.async { done(self.write(request, style: style)) }
    }

    /// Draws `request` in `style` and writes it under a free name; the action that says how it went. Never throws:
    /// every failure (a figure that cannot be drawn, a folder that cannot be written) is a message.
    public func write(_ request: FigureExportRequest, style: FigureStyle) -> Action {
        let data: Data
        do {
            data = try FigureExport.render(request.figure, as: request.format, style: style)
        } catch let error as FigureError {
            return .figureExportFailed(Self.message(error))
        } catch {
            return .figureExportFailed("cannot draw the \(request.figure.viewName) figure: \(error)")
        }
        var path = ""
        do {
            // Written whole under a name of its own, then linked to the first free name: link(2) never replaces a
            // file, so a name taken between the look and the write (another workbench, the same second) is
            // skipped, not overwritten.
            let staged = (folder as NSString).appendingPathComponent(".figure-\(getpid())-\(UUID().uuidString).part")
            try AtomicFile.write(data, to: staged, durable: true)
            defer { unlink(staged) }
            var skip = 0
            while true {
                path = freePath(for: request, after: skip)
                if link(staged, path) == 0 { break }
                guard errno == EEXIST else {
                    return .figureExportFailed("cannot write the figure: \(path): \(String(cString: strerror(errno)))")
                }
                skip += 1
            }
        } catch {
            return .figureExportFailed("cannot write the figure: \(error.reason)")
        }
        return .figureExported(path: path)
    }

    /// FigureError's words with the workbench's way out: the command line's `--format` is `--export-format` here.
    static func message(_ error: FigureError) -> String {
        switch error {
        case .tooManyTokens(let count, let cap):
            return "cannot draw a heatmap of \(count) tokens (at most \(cap), or the labels would not be legible); "
                + "shorten the text, or write the numbers: W picks json or csv (or start with --export-format json)"
        default:
            return "cannot export: \(error.description)"
        }
    }

    /// `folder/NAME-YYYYMMDD-HHMMSS.EXT`, with "-2", "-3", ... before the extension when that name is taken.
    /// A missing folder is made by the write (mkdir -p, `AtomicFile`), which also says when a file is in its place.
    func freePath(for request: FigureExportRequest, after skipped: Int = 0) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let stem = "\(request.name)-\(formatter.string(from: clock()))"
        let ext = request.format.rawValue
        var n = 1 + skipped
        while true {
            let name = n == 1 ? "\(stem).\(ext)" : "\(stem)-\(n).\(ext)"
            let path = folder == "." ? name : (folder as NSString).appendingPathComponent(name)
            // Taken: anything there, even a dangling link. A name that cannot be looked up (EACCES) is tried, and
            // the write says why it failed.
            var info = stat()
            if lstat(path, &info) != 0 { return path }
            n += 1
        }
    }
}
