import Foundation

/// What can be wrong with a pytorch_model.bin; every case names the file, and what to do where there is something.
public enum PyTorchCheckpointError: Error, CustomStringConvertible, Equatable {
    case notAZip(file: String, detail: String)
    case legacyFormat(file: String)
    case badZip(file: String, detail: String)
    case compressedEntry(file: String, entry: String, method: Int)
    case missingEntry(file: String, entry: String)
    case forbiddenOpcode(file: String, opcode: String, offset: Int)
    case forbiddenGlobal(file: String, global: String, offset: Int)
    case badPickle(file: String, detail: String, offset: Int)
    case notAStateDict(file: String, detail: String)
    case nonContiguous(file: String, tensor: String, shape: [Int], stride: [Int])
    case storageOutOfRange(file: String, tensor: String, detail: String)
    case bigEndian(file: String)

    public var description: String {
        switch self {
        case .notAZip(let file, let detail):
            return "\(file): not a PyTorch checkpoint (\(detail)); expected the zip written by torch.save"
        case .legacyFormat(let file):
            return "\(file): written in the legacy torch.save format (PyTorch before 1.6), which MaskScope does not read; pull model.safetensors instead (maskscope pull NAME) or re-save it with a current PyTorch"
        case .badZip(let file, let detail):
            return "\(file): damaged zip archive (\(detail)); download it again"
        case .compressedEntry(let file, let entry, let method):
            return "\(file): entry \(entry) is compressed (zip method \(method)); torch.save stores entries uncompressed so they can be mapped in place, re-save the checkpoint with torch.save"
        case .missingEntry(let file, let entry):
            return "\(file): the archive has no entry \(entry)"
        case .forbiddenOpcode(let file, let opcode, let offset):
            return "\(file): the pickle uses opcode \(opcode) at byte \(offset), which a state dict never needs; refusing to read it (nothing was executed)"
        case .forbiddenGlobal(let file, let global, let offset):
            return "\(file): the pickle refers to \(global) at byte \(offset), which a state dict never needs; refusing to read it (nothing was executed)"
        case .badPickle(let file, let detail, let offset):
            return "\(file): malformed pickle at byte \(offset) (\(detail))"
        case .notAStateDict(let file, let detail):
            return "\(file): not a state dict of tensors (\(detail))"
        case .nonContiguous(let file, let tensor, let shape, let stride):
            return "\(file): tensor \(tensor) of shape \(shape) has strides \(stride), not a contiguous row-major layout; save tensor.contiguous() instead"
        case .storageOutOfRange(let file, let tensor, let detail):
            return "\(file): tensor \(tensor) reaches outside its storage (\(detail)); the file is corrupt"
        case .bigEndian(let file):
            return "\(file): saved on a big-endian machine; MaskScope reads little-endian checkpoints only"
        }
    }
}

/// A memory-mapped pytorch_model.bin (the zip torch.save writes): its pickled state dict read by a restricted
/// unpickler that only builds dicts, tuples, strings, numbers, storages and tensors, and never calls anything.
///
/// The tensors point straight into the map, as safetensors tensors do: torch.save stores zip entries uncompressed.
final class PyTorchCheckpoint: @unchecked Sendable {
    let mapped: MappedFile
    let tensors: [String: TensorRecord]

    init(path: String) throws {
        let mapped = try MappedFile(path: path)
        self.mapped = mapped
        let zip = try ZipDirectory(mapped)
        guard let pickleName = zip.entries.keys.filter({ $0.hasSuffix("/data.pkl") || $0 == "data.pkl" })
            .min(by: { $0.count < $1.count }) else {
            throw PyTorchCheckpointError.missingEntry(file: path, entry: "<folder>/data.pkl")
        }
        let prefix = String(pickleName.dropLast("data.pkl".count))   // "archive/" or "pytorch_model/" or ""
        if let order = zip.entries[prefix + "byteorder"] {
            let text = String(decoding: UnsafeRawBufferPointer(start: mapped.base + order.offset, count: min(order.size, 16)), as: UTF8.self)
            if text.hasPrefix("big") { throw PyTorchCheckpointError.bigEndian(file: path) }
        }
        guard let pickleEntry = zip.entries[pickleName] else {
            throw PyTorchCheckpointError.missingEntry(file: path, entry: pickleName)
        }
        let pickleBytes = UnsafeRawBufferPointer(start: mapped.base + pickleEntry.offset, count: pickleEntry.size)
        var reader = RestrictedUnpickler(bytes: pickleBytes, file: path)
        let root = try reader.load()
        guard case .dict(let dict) = root else {
            throw PyTorchCheckpointError.notAStateDict(file: path, detail: "the pickle holds \(root.kind), not a dict")
        }
        var records: [String: TensorRecord] = [:]
        for (keyValue, value) in dict.items {
            guard case .string(let name) = keyValue else {
                throw PyTorchCheckpointError.notAStateDict(file: path, detail: "a key is \(keyValue.kind), not a tensor name")
            }
            guard case .tensor(let tensor) = value else {
                throw PyTorchCheckpointError.notAStateDict(file: path, detail: "entry \(name) is \(value.kind), not a tensor")
            }
            records[name] = try Self.record(name: name, tensor: tensor, prefix: prefix, zip: zip, mapped: mapped)
        }
        tensors = records
    }

    /// Checks the layout of one tensor and points a record at its bytes inside the storage's zip entry.
    static func record(name: String, tensor: PickledTensor, prefix: String, zip: ZipDirectory, mapped: MappedFile) throws -> TensorRecord {
        let file = mapped.path
        let storage = tensor.storage
        let entryName = prefix + "data/" + storage.key
        guard let entry = zip.entries[entryName] else {
            throw PyTorchCheckpointError.missingEntry(file: file, entry: entryName)
        }
        guard tensor.shape.count == tensor.stride.count, tensor.shape.allSatisfy({ $0 >= 0 }), tensor.offset >= 0 else {
            throw PyTorchCheckpointError.notAStateDict(file: file, detail: "tensor \(name) has size \(tensor.shape) and stride \(tensor.stride)")
        }
        // Row-major contiguity; a dimension of size 1 may carry any stride (PyTorch does not normalise it).
        var expected = 1
        for (size, stride) in Swift.zip(tensor.shape, tensor.stride).reversed() {
            if size != 1 && stride != expected {
                throw PyTorchCheckpointError.nonContiguous(file: file, tensor: name, shape: tensor.shape, stride: tensor.stride)
            }
            let (next, overflow) = expected.multipliedReportingOverflow(by: size)
            guard !overflow else { throw PyTorchCheckpointError.storageOutOfRange(file: file, tensor: name, detail: "size \(tensor.shape) overflows") }
            expected = next
        }
        let count = expected
        let size = storage.elementSize
        guard storage.count >= 0, storage.count.multipliedReportingOverflow(by: size).overflow == false,
              storage.count * size <= entry.size else {
            throw PyTorchCheckpointError.storageOutOfRange(
                file: file, tensor: name, detail: "storage \(storage.key) claims \(storage.count) elements but its entry holds \(entry.size) bytes")
        }
        guard count == 0 || tensor.offset + count <= storage.count else {
            throw PyTorchCheckpointError.storageOutOfRange(
                file: file, tensor: name, detail: "elements [\(tensor.offset), \(tensor.offset + count)) of a \(storage.count)-element storage")
        }
        let begin = entry.offset + tensor.offset * size
        return TensorRecord(name: name, dtypeName: storage.dtypeName, shape: tensor.shape, begin: begin, end: begin + count * size, file: mapped)
    }
}

/// The dtypes of a model directory's weights (["F32"], ["F16"], ...), read from the safetensors header or the
/// pickle of pytorch_model.bin without touching the tensor data; for listings.
public func checkpointDTypes(inModelDirectory directory: URL) throws -> [String] {
    let fm = FileManager.default
    let single = directory.appendingPathComponent("model.safetensors")
    let index = directory.appendingPathComponent("model.safetensors.index.json")
    let bin = directory.appendingPathComponent("pytorch_model.bin")
    var records: [TensorRecord] = []
    if fm.fileExists(atPath: single.path) {
        records = Array(try SafetensorsFile(path: single.path).tensors.values)
    } else if fm.fileExists(atPath: index.path) {
        for shard in try RobertaWeights.readShardIndex(index) {
            records += try SafetensorsFile(path: directory.appendingPathComponent(shard).path).tensors.values
        }
    } else if fm.fileExists(atPath: bin.path) {
        records = Array(try PyTorchCheckpoint(path: bin.path).tensors.values)
    } else {
        throw ModelLoadError.missingFile(single.path)
    }
    // Integer tensors (position_ids) are bookkeeping, not the weights' precision.
    let floats = Set(records.map(\.dtypeName)).filter { ["F32", "F16", "BF16", "F64"].contains($0) }
    return floats.sorted()
}

// MARK: - Zip

/// The stored entries of a zip archive: name -> where its bytes start in the file and how many there are.
struct ZipDirectory {
    struct Entry { let offset: Int; let size: Int }
    let entries: [String: Entry]

    init(_ mapped: MappedFile) throws {
        let file = mapped.path
        let base = mapped.base
        let size = mapped.size
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) throws -> Int {
            let v = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt64.self))
            guard v <= UInt64(Int.max) else { throw PyTorchCheckpointError.badZip(file: file, detail: "a zip64 field is out of range") }
            return Int(v)
        }
        guard size >= 4 else { throw PyTorchCheckpointError.notAZip(file: file, detail: "\(size) bytes") }
        if u32(0) != 0x0403_4b50 {
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
            if u32(at) == 0x0605_4b50 { eocd = at; break }
            at -= 1
        }
        guard eocd >= 0 else { throw PyTorchCheckpointError.badZip(file: file, detail: "no end-of-central-directory record; the file is truncated") }
        var count = u16(eocd + 10)
        var directorySize = u32(eocd + 12)
        var directoryOffset = u32(eocd + 16)
        if count == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            let locator = eocd - 20
            guard locator >= 0, u32(locator) == 0x0706_4b50 else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "zip64 fields without a zip64 locator")
            }
            let record = try u64(locator + 8)
            guard record >= 0, record + 56 <= size, u32(record) == 0x0606_4b50 else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "zip64 end record missing")
            }
            count = try u64(record + 32)
            directorySize = try u64(record + 40)
            directoryOffset = try u64(record + 48)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw PyTorchCheckpointError.badZip(file: file, detail: "central directory beyond the end of the file")
        }
        var entries: [String: Entry] = [:]
        var p = directoryOffset
        let end = directoryOffset + directorySize
        for _ in 0..<count {
            guard p + 46 <= end, u32(p) == 0x0201_4b50 else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "bad central directory entry at byte \(p)")
            }
            let method = u16(p + 10)
            var compressed = u32(p + 20)
            var uncompressed = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var local = u32(p + 42)
            guard p + 46 + nameLength + extraLength <= end else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "central directory entry at byte \(p) runs past the directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: base + p + 46, count: nameLength), as: UTF8.self)
            // Zip64 extra field: the 8-byte values of whichever 32-bit fields are saturated, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                if id == 0x0001 {
                    var q = e + 4
                    if uncompressed == 0xffff_ffff, q + 8 <= e + 4 + length { uncompressed = try u64(q); q += 8 }
                    if compressed == 0xffff_ffff, q + 8 <= e + 4 + length { compressed = try u64(q); q += 8 }
                    if local == 0xffff_ffff, q + 8 <= e + 4 + length { local = try u64(q); q += 8 }
                }
                e += 4 + length
            }
            if method != 0 { throw PyTorchCheckpointError.compressedEntry(file: file, entry: name, method: method) }
            guard compressed == uncompressed else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "stored entry \(name) has different compressed and uncompressed sizes")
            }
            guard local <= size - 30, u32(local) == 0x0403_4b50 else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "entry \(name) has no local header at byte \(local)")
            }
            let dataOffset = local + 30 + u16(local + 26) + u16(local + 28)
            guard dataOffset <= size, uncompressed <= size - dataOffset else {
                throw PyTorchCheckpointError.badZip(file: file, detail: "entry \(name) runs past the end of the file; it is truncated")
            }
            entries[name] = Entry(offset: dataOffset, size: uncompressed)
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}

// MARK: - Restricted unpickler

/// A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel).
struct PickledStorage: Equatable {
    let dtypeName: String
    let elementSize: Int
    let key: String
    let count: Int
}

/// What torch._utils._rebuild_tensor_v2 would build: a view into a storage.
struct PickledTensor: Equatable {
    let storage: PickledStorage
    let offset: Int
    let shape: [Int]
    let stride: [Int]
}

/// A dict under construction; a class because the pickle's memo and stack share it while SETITEMS fills it.
final class PickledDict {
    var items: [(PickleValue, PickleValue)] = []
}

/// The only callables a state dict refers to. They are recognised, never called: their effect is modelled here.
enum AllowedGlobal: Equatable {
    case orderedDict
    case rebuildTensor
    case rebuildTensorV2
    case rebuildParameter
    case rebuildParameterWithState
    case storageType(dtype: String, size: Int)

    static func lookup(module: String, name: String) -> AllowedGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch", let storage):
            let types: [String: (String, Int)] = [
                "FloatStorage": ("F32", 4), "HalfStorage": ("F16", 2), "BFloat16Storage": ("BF16", 2),
                "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4),
                "ShortStorage": ("I16", 2), "CharStorage": ("I8", 1), "ByteStorage": ("U8", 1), "BoolStorage": ("BOOL", 1),
            ]
            if let (dtype, size) = types[storage] { return .storageType(dtype: dtype, size: size) }
            return nil
        default: return nil
        }
    }
}

/// A value on the unpickler's stack.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list([PickleValue])
    case dict(PickledDict)
    case global(AllowedGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)
    case mark

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .float: return "a float"
        case .string: return "a string"
        case .tuple: return "a tuple"
        case .list: return "a list"
        case .dict: return "a dict"
        case .global: return "a callable"
        case .storage: return "a storage"
        case .tensor: return "a tensor"
        case .mark: return "a mark"
        }
    }
}

/// Reads pickle protocols 2-5 as far as a state dict needs. Unknown opcodes and globals are refused by name;
/// REDUCE and BUILD are only applied to the allowed callables above, by modelling them, so nothing runs.
struct RestrictedUnpickler {
    let bytes: UnsafeRawBufferPointer
    let file: String
    var position = 0
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    static let opcodeNames: [UInt8: String] = [
        0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT",
        0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID",
        0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
        0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT",
        0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET",
        0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
        0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
        0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2",
        0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
        0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8",
        0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL",
        0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    func fail(_ detail: String) -> PyTorchCheckpointError {
        .badPickle(file: file, detail: detail, offset: position)
    }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw fail("unexpected end of the pickle") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - position else { throw fail("a length of \(n) runs past the end of the pickle") }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    mutating func uint(_ n: Int) throws -> Int {
        let raw = try take(n)
        var v: UInt64 = 0
        for i in (0..<n).reversed() { v = v << 8 | UInt64(raw[i]) }
        guard v <= UInt64(Int.max) else { throw fail("a length is out of range") }
        return Int(v)
    }

    mutating func line() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0a) else { throw fail("a text argument has no end of line") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<newline]), as: UTF8.self)
        position = newline + 1
        return text
    }

    mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw fail("the stack is empty") }
        if case .mark = v { throw fail("a mark where a value was expected") }
        return v
    }

    /// The values pushed since the last MARK, which is removed.
    mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark < stack.count else { throw fail("no MARK to pop to") }
        let values = Array(stack[(mark + 1)...])
        stack.removeSubrange(mark...)
        return values
    }

    mutating func top() throws -> PickleValue {
        guard let v = stack.last else { throw fail("the stack is empty") }
        return v
    }

    mutating func global(module: String, name: String, at offset: Int) throws -> PickleValue {
        guard let allowed = AllowedGlobal.lookup(module: module, name: name) else {
            throw PyTorchCheckpointError.forbiddenGlobal(file: file, global: "\(module).\(name)", offset: offset)
        }
        return .global(allowed)
    }

    mutating func setItems(_ pairs: [PickleValue]) throws {
        guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
        guard case .dict(let dict) = try top() else { throw fail("SETITEM(S) on \(try top().kind), not a dict") }
        var i = 0
        while i < pairs.count {
            dict.items.append((pairs[i], pairs[i + 1]))
            i += 2
        }
    }

    mutating func load() throws -> PickleValue {
        while true {
            let offset = position
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw fail("pickle protocol \(version) is newer than 5") }
            case 0x95: _ = try take(8) // FRAME: a length hint only
            case 0x2e: // STOP
                let result = try pop()
                return result
            case 0x28: marks.append(stack.count); stack.append(.mark) // MARK
            case 0x29: stack.append(.tuple([]))
            case 0x74: // TUPLE
                stack.append(.tuple(try popToMark()))
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))
            case 0x7d: stack.append(.dict(PickledDict()))
            case 0x5d: stack.append(.list([]))
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value])
            case 0x75: // SETITEMS
                try setItems(try popToMark())
            case 0x61: // APPEND
                let value = try pop()
                guard case .list(let list) = try pop() else { throw fail("APPEND to something that is not a list") }
                stack.append(.list(list + [value]))
            case 0x65: // APPENDS
                let values = try popToMark()
                guard case .list(let list) = try pop() else { throw fail("APPENDS to something that is not a list") }
                stack.append(.list(list + values))
            case 0x4e: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4b: stack.append(.int(Int(try byte())))                          // BININT1
            case 0x4d: stack.append(.int(try uint(2)))                              // BININT2
            case 0x4a: stack.append(.int(Int(Int32(truncatingIfNeeded: try uint(4))))) // BININT (signed)
            case 0x8a: // LONG1: little-endian two's complement of n bytes
                let n = Int(try byte())
                guard n <= 8 else { throw fail("an integer of \(n) bytes") }
                let raw = try take(n)
                var v: UInt64 = 0
                for i in (0..<n).reversed() { v = v << 8 | UInt64(raw[i]) }
                if n > 0, n < 8, raw[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
                stack.append(.int(Int(truncatingIfNeeded: v)))
            case 0x47: // BINFLOAT, big-endian
                let raw = try take(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(raw[i]) }
                stack.append(.float(Double(bitPattern: v)))
            case 0x58: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))
            case 0x8c: stack.append(.string(String(decoding: try take(Int(try byte())), as: UTF8.self)))
            case 0x8d: stack.append(.string(String(decoding: try take(try uint(8)), as: UTF8.self)))
            case 0x54: stack.append(.string(String(decoding: try take(try uint(4)), as: UTF8.self)))
            case 0x55: stack.append(.string(String(decoding: try take(Int(try byte())), as: UTF8.self)))
            case 0x71: memo[Int(try byte())] = try top()   // BINPUT
            case 0x72: memo[try uint(4)] = try top()       // LONG_BINPUT
            case 0x94: memo[memo.count] = try top()        // MEMOIZE
            case 0x70: // PUT
                guard let index = Int(try line()) else { throw fail("PUT without an index") }
                memo[index] = try top()
            case 0x68, 0x6a, 0x67: // BINGET, LONG_BINGET, GET
                let index: Int
                if op == 0x68 { index = Int(try byte()) } else if op == 0x6a { index = try uint(4) } else {
                    guard let i = Int(try line()) else { throw fail("GET without an index") }
                    index = i
                }
                guard let value = memo[index] else { throw fail("memo entry \(index) was never stored") }
                stack.append(value)
            case 0x63: // GLOBAL "module\nname\n"
                let module = try line(), name = try line()
                stack.append(try global(module: module, name: name, at: offset))
            case 0x93: // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL without two strings")
                }
                stack.append(try global(module: module, name: name, at: offset))
            case 0x51: // BINPERSID
                stack.append(try persistentLoad(try pop()))
            case 0x52: // REDUCE
                guard case .tuple(let args) = try pop() else { throw fail("REDUCE arguments are not a tuple") }
                guard case .global(let callable) = try pop() else { throw fail("REDUCE on something that is not an allowed callable") }
                stack.append(try apply(callable, args))
            case 0x62: // BUILD: only the attribute dicts of OrderedDict (_metadata) and parameters, which we ignore
                let state = try pop()
                let target = try top()
                switch (target, state) {
                case (.dict, .dict), (.dict, .none), (.tensor, _): break
                default: throw fail("BUILD with \(state.kind) on \(target.kind)")
                }
            default:
                let name = Self.opcodeNames[op] ?? String(format: "0x%02x", op)
                throw PyTorchCheckpointError.forbiddenOpcode(file: file, opcode: name, offset: offset)
            }
        }
    }

    func int(_ v: PickleValue, _ what: String) throws -> Int {
        guard case .int(let n) = v else { throw fail("\(what) is \(v.kind), not an int") }
        return n
    }

    func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let items) = v else { throw fail("\(what) is \(v.kind), not a tuple") }
        return try items.map { try int($0, what) }
    }

    /// ('storage', torch.XStorage, key, location, numel[, view_metadata]) -> a storage reference.
    func persistentLoad(_ pid: PickleValue) throws -> PickleValue {
        guard case .tuple(let t) = pid, t.count >= 5, case .string("storage") = t[0] else {
            throw fail("a persistent id that is not ('storage', type, key, location, size)")
        }
        guard case .global(.storageType(let dtype, let size)) = t[1] else { throw fail("storage type is \(t[1].kind)") }
        guard case .string(let key) = t[2], !key.isEmpty, !key.contains("/"), !key.contains("..") else {
            throw fail("storage key is not a plain name")
        }
        return .storage(PickledStorage(dtypeName: dtype, elementSize: size, key: key, count: try int(t[4], "storage size")))
    }

    func apply(_ callable: AllowedGlobal, _ args: [PickleValue]) throws -> PickleValue {
        switch callable {
        case .orderedDict:
            guard args.isEmpty else { throw fail("OrderedDict called with arguments") }
            return .dict(PickledDict())
        case .rebuildTensor, .rebuildTensorV2:
            guard args.count >= 4, case .storage(let storage) = args[0] else {
                throw fail("_rebuild_tensor_v2 without (storage, offset, size, stride, ...)")
            }
            return .tensor(PickledTensor(storage: storage, offset: try int(args[1], "storage offset"),
                                         shape: try ints(args[2], "size"), stride: try ints(args[3], "stride")))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let first = args.first, case .tensor = first else { throw fail("_rebuild_parameter without a tensor") }
            return first
        case .storageType:
            throw fail("a storage type called directly")
        }
    }
}
