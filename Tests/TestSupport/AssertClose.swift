import XCTest

/// How far two float sequences are apart, and why they do not count as close (if they do not).
///
/// Every difference is checked, so a NaN or an infinity anywhere fails: accumulating `max(worst, |a - b|)`
/// does not, because `max(x, .nan)` is `x` in Swift, and a kernel that left rows unwritten (still NaN) passed.
public struct Closeness: Equatable, Sendable {
    /// How many pairs were compared.
    public let count: Int
    /// The largest |got - want| (divided by max(1, |want|) when relative); NaN when a value is not finite.
    public let largestDifference: Double
    /// Where the largest difference (or the first non-finite value) is.
    public let index: Int?
    /// Why the values are not close, or nil when they are.
    public let problem: String?

    public var isClose: Bool { problem == nil }
}

/// Compares `got` with `want` element by element; see `assertClose`.
public func closeness<G: Collection, W: Collection>(_ got: G, _ want: W, tolerance: Double, relative: Bool = false) -> Closeness
where G.Element: BinaryFloatingPoint, W.Element: BinaryFloatingPoint {
    let a = got.map { Double($0) }, b = want.map { Double($0) }
    guard a.count == b.count else {
        return Closeness(count: 0, largestDifference: .nan, index: nil,
                         problem: "got \(a.count) values but expected \(b.count)")
    }
    var worst = 0.0
    var worstIndex: Int? = nil
    for i in a.indices {
        guard a[i].isFinite, b[i].isFinite else {
            let bad = a.indices.filter { !a[$0].isFinite || !b[$0].isFinite }.count
            return Closeness(count: a.count, largestDifference: .nan, index: i,
                             problem: "value \(i) of \(a.count) is not finite (got \(a[i]), expected \(b[i])); \(bad) non-finite in all")
        }
        var difference = abs(a[i] - b[i])
        if relative { difference /= max(1, abs(b[i])) }
        if difference > worst || worstIndex == nil {
            worst = difference
            worstIndex = i
        }
    }
    guard worst <= tolerance else {
        let i = worstIndex ?? 0
        return Closeness(count: a.count, largestDifference: worst, index: i,
                         problem: "largest \(relative ? "relative " : "")difference \(worst) at value \(i) of \(a.count) (got \(a[i]), expected \(b[i])) exceeds \(tolerance)")
    }
    return Closeness(count: a.count, largestDifference: worst, index: worstIndex, problem: nil)
}

/// Asserts that `got` and `want` have the same count, hold only finite values, and differ by at most `tolerance`
/// everywhere (relative: |got - want| / max(1, |want|)); a failure prints the largest difference and where it is.
/// - Returns: the largest difference (NaN when not comparable), for summaries.
@discardableResult
public func assertClose<G: Collection, W: Collection>(
    _ got: G, _ want: W, tolerance: Double, relative: Bool = false,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) -> Double
where G.Element: BinaryFloatingPoint, W.Element: BinaryFloatingPoint {
    let result = closeness(got, want, tolerance: tolerance, relative: relative)
    if let problem = result.problem {
        let context = message()
        XCTFail(context.isEmpty ? problem : "\(context): \(problem)", file: file, line: line)
    }
    return result.largestDifference
}

/// `assertClose` for one value.
@discardableResult
public func assertClose<G: BinaryFloatingPoint, W: BinaryFloatingPoint>(
    _ got: G, _ want: W, tolerance: Double, relative: Bool = false,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) -> Double {
    assertClose([got], [want], tolerance: tolerance, relative: relative, message(), file: file, line: line)
}
