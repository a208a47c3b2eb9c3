/// Why a figure could not be made, with what to do about it.
public enum FigureError: Error, CustomStringConvertible, Equatable, Sendable {
    /// More tokens than a heatmap can label legibly.
    case tooManyTokens(count: Int, cap: Int)
    /// The view has nothing to draw (no tokens, no masks, no heads).
    case empty(view: String, reason: String)
    /// The data does not fit together (a matrix row of the wrong length, ...).
    case inconsistent(String)
    /// A PNG scale outside what we draw.
    case badScale(Double, allowed: ClosedRange<Double>)
    /// cairo refused (out of memory, a surface too large).
    case cairo(String)

    public var description: String {
        switch self {
        case .tooManyTokens(let count, let cap):
            return "the text has \(count) tokens; a heatmap is drawn for at most \(cap) (labels would not be legible); shorten the text or export --format json or csv, which have no cap"
        case .empty(let view, let reason):
            return "nothing to draw for the \(view) view: \(reason)"
        case .inconsistent(let what):
            return "the figure's data does not fit together: \(what)"
        case .badScale(let scale, let allowed):
            return "--scale must be between \(allowed.lowerBound) and \(allowed.upperBound) (got \(scale))"
        case .cairo(let what):
            return "cairo could not draw the figure: \(what)"
        }
    }
}
