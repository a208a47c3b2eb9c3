import Foundation

/// The stored entries of a zip archive (the container torch.save writes): name -> where its bytes start in the
/// file and how many there are.
///
/// Every field is read through a bounds-checked reader and every size and offset is combined with
/// `FileArithmetic`, so a damaged or hostile archive is a `PyTorchCheckpointError.badZip`, never a read outside
/// the map or an overflow trap.
struct ZipDirectory {
    struct Entry { let offset: Int; let size: Int }
    let entries: [String: Entry]

    init(_ mapped: MappedFile) throws {
        let file = mapped.path
        let base = mapped.base
        let size = mapped.size
        func bad(_ detail: String) -> PyTorchCheckpointError { .badZip(file: file, detail: detail) }
        /// The `width` bytes at `at`, little-endian, after checking they lie inside the file.
        func field(_ at: Int, _ width: Int) throws -> UInt64 {
            guard FileArithmetic.range(offset: at, count: width, within: size) != nil else {
                throw bad("a \(width)-byte field at byte \(at) lies beyond the end of the \(size)-byte file; the file is truncated")
            }
            var value: UInt64 = 0
            for i in (0..<width).reversed() { value = value << 8 | UInt64(base.load(fromByteOffset: at + i, as: UInt8.self)) }
            return value
        }
        func u16(_ at: Int) throws -> Int { Int(try field(at, 2)) }
        func u32(_ at: Int) throws -> Int { Int(try field(at, 4)) }
        func u64(_ at: Int) throws -> Int {
            let value = try field(at, 8)
            guard value <= UInt64(Int.max) else { throw bad("a zip64 field at byte \(at) is out of range") }
            return Int(value)
        }

        guard size >= 4 else { throw PyTorchCheckpointError.notAZip(file: file, detail: "\(size) bytes") }
        if try u32(0) != 0x0403_4b50 {
            // Pre-1.6 torch.save: a pickle (protocol 2) whose first value is the magic number 0x1950a86a20f9469cfc6c.
            if base.load(as: UInt8.self) == 0x80 || size >= 262 && String(decoding: UnsafeRawBufferPointer(start: base + 257, count: 5), as: UTF8.self) == "ustar" {
                throw PyTorchCheckpointError.legacyFormat(file: file)
            }
            throw PyTorchCheckpointError.notAZip(file: file, detail: "no zip signature at the start")
        }
        // End of central directory: the last 22+ bytes (a comment of up to 65535 bytes may follow it).
        var eocd = -1
        var at = size - 22
        while at >= max(0, size - 22 - 65_535) {
            if try u32(at) == 0x0605_4b50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record; the file is truncated") }
        var count = try u16(eocd + 10)
        var directorySize = try u32(eocd + 12)
        var directoryOffset = try u32(eocd + 16)
        if count == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            let locator = eocd - 20
            guard locator >= 0, try u32(locator) == 0x0706_4b50 else { throw bad("zip64 fields without a zip64 locator") }
            let record = try u64(locator + 8)
            guard FileArithmetic.range(offset: record, count: 56, within: size) != nil, try u32(record) == 0x0606_4b50 else {
                throw bad("the zip64 end record the locator points to (byte \(record)) is not in the file")
            }
            count = try u64(record + 32)
            directorySize = try u64(record + 40)
            directoryOffset = try u64(record + 48)
        }
        guard let directory = FileArithmetic.range(offset: directoryOffset, count: directorySize, within: size) else {
            throw bad("central directory beyond the end of the file")
        }
        var entries: [String: Entry] = [:]
        var p = directory.lowerBound
        let end = directory.upperBound
        for _ in 0..<count {
            guard FileArithmetic.range(offset: p, count: 46, within: end) != nil, try u32(p) == 0x0201_4b50 else {
                throw bad("bad central directory entry at byte \(p)")
            }
            let method = try u16(p + 10)
            var compressed = try u32(p + 20)
            var uncompressed = try u32(p + 24)
            let nameLength = try u16(p + 28), extraLength = try u16(p + 30), commentLength = try u16(p + 32)
            var local = try u32(p + 42)
            guard let record = FileArithmetic.range(offset: p, count: 46 + nameLength + extraLength + commentLength, within: end) else {
                throw bad("central directory entry at byte \(p) runs past the directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: base + p + 46, count: nameLength), as: UTF8.self)
            // Zip64 extra field: the 8-byte values of whichever 32-bit fields are saturated, in this order, each
            // read within the field's own length, which must lie within the entry's extra data.
            let extra = (p + 46 + nameLength)..<(p + 46 + nameLength + extraLength)
            var e = extra.lowerBound
            while e + 4 <= extra.upperBound {
                let id = try u16(e), length = try u16(e + 2)
                guard e + 4 + length <= extra.upperBound else {
                    throw bad("entry \(name): an extra field claims \(length) bytes but the entry's extra data ends \(extra.upperBound - e - 4) bytes later")
                }
                if id == 0x0001 {
                    var q = e + 4
                    let fieldEnd = q + length
                    func next() throws -> Int {
                        guard q + 8 <= fieldEnd else { throw bad("entry \(name): its zip64 extra field lacks a 64-bit value its header defers to it") }
                        defer { q += 8 }
                        return try u64(q)
                    }
                    if uncompressed == 0xffff_ffff { uncompressed = try next() }
                    if compressed == 0xffff_ffff { compressed = try next() }
                    if local == 0xffff_ffff { local = try next() }
                }
                e += 4 + length
            }
            if method != 0 { throw PyTorchCheckpointError.compressedEntry(file: file, entry: name, method: method) }
            guard compressed == uncompressed else {
                throw bad("stored entry \(name) has different compressed and uncompressed sizes")
            }
            guard FileArithmetic.range(offset: local, count: 30, within: size) != nil, try u32(local) == 0x0403_4b50 else {
                throw bad("entry \(name) has no local header at byte \(local)")
            }
            let dataOffset = local + 30 + (try u16(local + 26)) + (try u16(local + 28))
            guard FileArithmetic.range(offset: dataOffset, count: uncompressed, within: size) != nil else {
                throw bad("entry \(name) runs past the end of the file; it is truncated")
            }
            entries[name] = Entry(offset: dataOffset, size: uncompressed)
            p = record.upperBound
        }
        self.entries = entries
    }
}
