/// The GPT-2 byte-to-unicode table: every byte maps to one printable code point, and back.
public enum ByteLevel {
    /// The code point standing for each byte (index = byte value), e.g. 0x20 -> "Ġ" (U+0120).
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte)
                || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // Values 256...323 are all valid scalars.
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The byte each table code point stands for, indexed by code point value (0...323); -1 where none.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (byte, scalar) in byteToScalar.enumerated() {
            table[Int(scalar.value)] = Int16(byte)
        }
        return table
    }()

    /// UTF-8 length of each byte's table code point (1 for ASCII stand-ins, 2 otherwise).
    static let mappedUTF8Length: [Int] = byteToScalar.map { $0.value < 0x80 ? 1 : 2 }

    /// The byte-level string for raw bytes, e.g. [0x20, 0x69, 0x73] -> "Ġis".
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var view = String.UnicodeScalarView()
        for byte in bytes { view.append(byteToScalar[Int(byte)]) }
        return String(view)
    }

    /// The raw bytes of a byte-level string, or nil if some code point is not in the table.
    public static func decode(_ token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            let value = Int(scalar.value)
            guard value < scalarToByte.count, scalarToByte[value] >= 0 else { return nil }
            bytes.append(UInt8(scalarToByte[value]))
        }
        return bytes
    }
}
