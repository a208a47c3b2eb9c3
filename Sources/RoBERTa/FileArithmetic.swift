/// Arithmetic on sizes, counts and offsets read from a file. A hostile file can put any value there (an offset
/// of 2^63 - 1, a shape whose product wraps), and Swift traps on overflow, so every sum and product of such
/// values goes through here and comes back nil instead: the caller turns nil into an error naming the file.
enum FileArithmetic {
    /// a + b, or nil on overflow.
    @inline(__always)
    static func sum(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }

    /// a * b, or nil on overflow.
    @inline(__always)
    static func product(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }

    /// The product of every value (1 for none), or nil when one is negative or the product overflows.
    static func product<S: Sequence<Int>>(_ values: S) -> Int? {
        var result = 1
        for value in values {
            guard value >= 0, let next = product(result, value) else { return nil }
            result = next
        }
        return result
    }

    /// The byte range [offset, offset + count) when both are non-negative and it ends at or before `limit`;
    /// nil otherwise (negative values, overflow, or a range past the limit).
    static func range(offset: Int, count: Int, within limit: Int) -> Range<Int>? {
        guard offset >= 0, count >= 0, let end = sum(offset, count), end <= limit else { return nil }
        return offset..<end
    }
}
