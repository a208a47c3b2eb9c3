/// A direct reader for vocab.json's one shape, `{"token": id, ...}`: JSONDecoder spends ~140 ms on the
/// 50,265 entries of RoBERTa's vocabulary, this ~15 ms. It returns nil for anything outside that shape
/// (other value types, nesting, bad escapes), and the caller then falls back to JSONDecoder, which also
/// produces the error message for a broken file.
enum FastVocabJSON {
    static func parse(_ bytes: [UInt8]) -> [String: Int]? {
        bytes.withUnsafeBufferPointer { parse($0) }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> [String: Int]? {
        var i = 0
        let n = b.count
        func skipSpace() { while i < n, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        // UTF-8 BOM, as Foundation accepts it
        if n >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
        skipSpace()
        guard i < n, b[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var result: [String: Int] = [:]
        result.reserveCapacity(n / 12)
        var scratch: [UInt8] = []
        skipSpace()
        if i < n, b[i] == UInt8(ascii: "}") { i += 1; skipSpace(); return i == n ? result : nil }
        while true {
            skipSpace()
            guard i < n, b[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            // key: copy bytes up to the closing quote, decoding escapes
            scratch.removeAll(keepingCapacity: true)
            while true {
                guard i < n else { return nil }
                let c = b[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { return nil }
                if c != UInt8(ascii: "\\") { scratch.append(c); i += 1; continue }
                i += 1
                guard i < n else { return nil }
                switch b[i] {
                case UInt8(ascii: "\""): scratch.append(0x22)
                case UInt8(ascii: "\\"): scratch.append(0x5C)
                case UInt8(ascii: "/"): scratch.append(0x2F)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    guard let unit = hex4(b, i + 1) else { return nil }
                    i += 4
                    var scalarValue = UInt32(unit)
                    if (0xD800..<0xDC00).contains(unit) {
                        // a surrogate pair: \\uD83D\\uDE00
                        guard i + 6 < n, b[i + 1] == UInt8(ascii: "\\"), b[i + 2] == UInt8(ascii: "u"),
                              let low = hex4(b, i + 3), (0xDC00..<0xE000).contains(low) else { return nil }
                        i += 6
                        scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(unit) {
                        return nil
                    }
                    guard let scalar = Unicode.Scalar(scalarValue) else { return nil }
                    scratch.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
                i += 1
            }
            guard let key = String(validating: scratch, as: UTF8.self) else { return nil }
            skipSpace()
            guard i < n, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            // value: a non-negative integer
            var value = 0
            let start = i
            while i < n, b[i] >= 0x30, b[i] <= 0x39 {
                value = value &* 10 &+ Int(b[i] - 0x30)
                i += 1
                if i - start > 15 { return nil }
            }
            guard i > start else { return nil }
            result[key] = value
            skipSpace()
            guard i < n else { return nil }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; break }
            return nil
        }
        skipSpace()
        return i == n ? result : nil
    }

    private static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt16? {
        guard at + 4 <= b.count else { return nil }
        var v: UInt16 = 0
        for k in 0..<4 {
            let c = b[at + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }
}
