import Foundation

/// Checks on the bytes of a request before it is parsed.
public enum RequestBytes {
    /// The first byte that is not part of valid UTF-8, with its offset, or nil when all of `bytes` is UTF-8.
    public static func firstInvalidUTF8(_ bytes: [UInt8]) -> (offset: Int, byte: UInt8)? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return (offset, bytes[offset])
            }
        }
    }

    /// Whether `bytes` leave a JSON value open: more `{` and `[` than closed outside strings, as the first line of a
    /// pretty-printed request does (its document goes on over the next lines).
    public static func leaveJSONOpen(_ bytes: [UInt8]) -> Bool {
        var depth = 0
        var inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return depth > 0
    }
}
