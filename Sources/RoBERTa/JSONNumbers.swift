import Foundation

/// JSON numbers as Foundation's JSONSerialization returns them on every platform: `true` and `1` both
/// bridge to Bool and Int there, so the boolean-ness is read from the number's own type code.
public enum JSONNumber {
    public static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return String(cString: number.objCType) == "c"
    }

    /// The value as a whole number, or nil for booleans, fractions and non-numbers.
    public static func int(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !isBool(value) else { return nil }
        let d = number.doubleValue
        guard d == d.rounded(), abs(d) < 9e15 else { return nil }
        return number.intValue
    }

    /// The value as a float, or nil for booleans and non-numbers.
    public static func double(_ value: Any) -> Double? {
        guard let number = value as? NSNumber, !isBool(value) else { return nil }
        return number.doubleValue
    }
}
