import Foundation

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

/// One value the unpickler built. Containers hold the arena indices of their items, never the items: a value
/// nested 100,000 deep is then a flat array of nodes, built and freed without recursion (a nested Swift enum
/// or class is freed recursively and overflows the stack), and cycles made through the memo leak nothing.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// Arena indices of the items.
    case tuple([Int])
    /// Index into `RestrictedUnpickler.lists`: lists are mutable and shared through the memo, as in Python.
    case list(Int)
    /// Index into `RestrictedUnpickler.dicts`.
    case dict(Int)
    case global(AllowedGlobal)
    case storage(PickledStorage)
    case tensor(PickledTensor)

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
        }
    }
}

/// Reads pickle protocols 2-5 as far as a state dict needs. Unknown opcodes and globals are refused by name;
/// REDUCE and BUILD are only applied to the allowed callables above, by modelling them, so nothing runs.
///
/// The values live in an arena (`values`, `lists`, `dicts`) and the stack, marks and memo hold indices into it.
/// Nesting deeper than `depthLimit` (open MARKs, or a value built from values that deep) is refused with
/// `PyTorchCheckpointError.tooDeep` before the deeper value is built: a state dict nests a handful of levels.
struct RestrictedUnpickler {
    /// Far above what a state dict needs (the dict, a tensor's argument tuple, its size tuple: about 5).
    static let depthLimit = 100

    let bytes: UnsafeRawBufferPointer
    let file: String
    var position = 0
    /// The arena: every value built, by index.
    private(set) var values: [PickleValue] = []
    /// How deeply each value nests, as far as was known when it was built or last filled.
    private var depths: [Int] = []
    /// The items of each list and dict, by the index their `PickleValue` holds.
    private(set) var lists: [[Int]] = []
    private(set) var dicts: [[(key: Int, value: Int)]] = []
    private var stack: [Int] = []
    /// Stack heights at each open MARK.
    private var marks: [Int] = []
    private var memo: [Int: Int] = [:]

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

    // MARK: Reading bytes

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

    // MARK: The arena and the stack

    /// The value at an arena index.
    func value(_ index: Int) -> PickleValue { values[index] }

    /// The (key, value) pairs of a dict value, in insertion order.
    func items(ofDict index: Int) -> [(key: PickleValue, value: PickleValue)] {
        guard case .dict(let d) = values[index] else { return [] }
        return dicts[d].map { (values[$0.key], values[$0.value]) }
    }

    /// Adds a value built from `children` to the arena, unless it would nest deeper than the limit.
    mutating func make(_ value: PickleValue, children: [Int] = [], at offset: Int) throws -> Int {
        let depth = 1 + (children.map { depths[$0] }.max() ?? 0)
        guard depth <= Self.depthLimit else {
            throw PyTorchCheckpointError.tooDeep(file: file, limit: Self.depthLimit, offset: offset)
        }
        values.append(value)
        depths.append(depth)
        return values.count - 1
    }

    mutating func push(_ value: PickleValue, children: [Int] = [], at offset: Int) throws {
        stack.append(try make(value, children: children, at: offset))
    }

    /// Records that `container` now holds `item`, refusing the result if it nests too deep.
    mutating func deepen(_ container: Int, holding item: Int, at offset: Int) throws {
        let depth = depths[item] + 1
        guard depth <= Self.depthLimit else {
            throw PyTorchCheckpointError.tooDeep(file: file, limit: Self.depthLimit, offset: offset)
        }
        depths[container] = max(depths[container], depth)
    }

    mutating func pop() throws -> Int {
        guard stack.count > (marks.last ?? 0) else {
            throw fail(stack.isEmpty ? "the stack is empty" : "a mark where a value was expected")
        }
        return stack.removeLast()
    }

    /// The values pushed since the last MARK, which is removed.
    mutating func popToMark() throws -> [Int] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw fail("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    func top() throws -> Int {
        guard stack.count > (marks.last ?? 0), let index = stack.last else { throw fail("the stack is empty") }
        return index
    }

    mutating func global(module: String, name: String, at offset: Int) throws {
        guard let allowed = AllowedGlobal.lookup(module: module, name: name) else {
            throw PyTorchCheckpointError.forbiddenGlobal(file: file, global: "\(module).\(name)", offset: offset)
        }
        try push(.global(allowed), at: offset)
    }

    mutating func setItems(_ pairs: [Int], at offset: Int) throws {
        guard pairs.count % 2 == 0 else { throw fail("SETITEMS with an odd number of values") }
        let target = try top()
        guard case .dict(let d) = values[target] else { throw fail("SETITEM(S) on \(values[target].kind), not a dict") }
        var i = 0
        while i < pairs.count {
            try deepen(target, holding: pairs[i], at: offset)
            try deepen(target, holding: pairs[i + 1], at: offset)
            dicts[d].append((pairs[i], pairs[i + 1]))
            i += 2
        }
    }

    mutating func append(_ items: [Int], at offset: Int) throws {
        let target = try top()
        guard case .list(let l) = values[target] else { throw fail("APPEND(S) to \(values[target].kind), not a list") }
        for item in items { try deepen(target, holding: item, at: offset) }
        lists[l] += items
    }

    mutating func newDict(at offset: Int) throws -> Int {
        dicts.append([])
        return try make(.dict(dicts.count - 1), at: offset)
    }

    // MARK: Opcodes

    /// Runs the pickle to its STOP and returns the arena index of the value it leaves.
    mutating func load() throws -> Int {
        while true {
            let offset = position
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let version = try byte()
                guard version <= 5 else { throw fail("pickle protocol \(version) is newer than 5") }
            case 0x95: _ = try take(8) // FRAME: a length hint only
            case 0x2e: // STOP
                return try pop()
            case 0x28: // MARK
                guard marks.count < Self.depthLimit else {
                    throw PyTorchCheckpointError.tooDeep(file: file, limit: Self.depthLimit, offset: offset)
                }
                marks.append(stack.count)
            case 0x29: try push(.tuple([]), at: offset)
            case 0x74: // TUPLE
                let items = try popToMark()
                try push(.tuple(items), children: items, at: offset)
            case 0x85: let a = try pop(); try push(.tuple([a]), children: [a], at: offset)
            case 0x86: let b = try pop(), a = try pop(); try push(.tuple([a, b]), children: [a, b], at: offset)
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple([a, b, c]), children: [a, b, c], at: offset)
            case 0x7d: stack.append(try newDict(at: offset))
            case 0x5d: // EMPTY_LIST
                lists.append([])
                try push(.list(lists.count - 1), at: offset)
            case 0x73: // SETITEM
                let value = try pop(), key = try pop()
                try setItems([key, value], at: offset)
            case 0x75: try setItems(try popToMark(), at: offset) // SETITEMS
            case 0x61: try append([try pop()], at: offset)    // APPEND
            case 0x65: try append(try popToMark(), at: offset) // APPENDS
            case 0x4e: try push(.none, at: offset)
            case 0x88: try push(.bool(true), at: offset)
            case 0x89: try push(.bool(false), at: offset)
            case 0x4b: try push(.int(Int(try byte())), at: offset)                          // BININT1
            case 0x4d: try push(.int(try uint(2)), at: offset)                              // BININT2
            case 0x4a: try push(.int(Int(Int32(truncatingIfNeeded: try uint(4)))), at: offset) // BININT (signed)
            case 0x8a: // LONG1: little-endian two's complement of n bytes
                let n = Int(try byte())
                guard n <= 8 else { throw fail("an integer of \(n) bytes") }
                let raw = try take(n)
                var v: UInt64 = 0
                for i in (0..<n).reversed() { v = v << 8 | UInt64(raw[i]) }
                if n > 0, n < 8, raw[n - 1] & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }
                try push(.int(Int(truncatingIfNeeded: v)), at: offset)
            case 0x47: // BINFLOAT, big-endian
                let raw = try take(8)
                var v: UInt64 = 0
                for i in 0..<8 { v = v << 8 | UInt64(raw[i]) }
                try push(.float(Double(bitPattern: v)), at: offset)
            case 0x58, 0x54: try push(.string(String(decoding: try take(try uint(4)), as: UTF8.self)), at: offset)
            case 0x8c, 0x55: try push(.string(String(decoding: try take(Int(try byte())), as: UTF8.self)), at: offset)
            case 0x8d: try push(.string(String(decoding: try take(try uint(8)), as: UTF8.self)), at: offset)
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
                try global(module: module, name: name, at: offset)
            case 0x93: // STACK_GLOBAL
                let nameIndex = try pop(), moduleIndex = try pop()
                guard case .string(let name) = values[nameIndex], case .string(let module) = values[moduleIndex] else {
                    throw fail("STACK_GLOBAL without two strings")
                }
                try global(module: module, name: name, at: offset)
            case 0x51: // BINPERSID
                let pid = try pop()
                try push(try persistentLoad(pid), children: [pid], at: offset)
            case 0x52: // REDUCE
                let argsIndex = try pop(), callableIndex = try pop()
                guard case .tuple(let args) = values[argsIndex] else { throw fail("REDUCE arguments are not a tuple") }
                guard case .global(let callable) = values[callableIndex] else {
                    throw fail("REDUCE on something that is not an allowed callable")
                }
                stack.append(try apply(callable, args, at: offset))
            case 0x62: // BUILD: only the attribute dicts of OrderedDict (_metadata) and parameters, which we ignore
                let state = values[try pop()]
                let target = values[try top()]
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

    func int(_ index: Int, _ what: String) throws -> Int {
        guard case .int(let n) = values[index] else { throw fail("\(what) is \(values[index].kind), not an int") }
        return n
    }

    func ints(_ index: Int, _ what: String) throws -> [Int] {
        guard case .tuple(let items) = values[index] else { throw fail("\(what) is \(values[index].kind), not a tuple") }
        return try items.map { try int($0, what) }
    }

    /// ('storage', torch.XStorage, key, location, numel[, view_metadata]) -> a storage reference.
    func persistentLoad(_ pid: Int) throws -> PickleValue {
        guard case .tuple(let t) = values[pid], t.count >= 5, case .string("storage") = values[t[0]] else {
            throw fail("a persistent id that is not ('storage', type, key, location, size)")
        }
        guard case .global(.storageType(let dtype, let size)) = values[t[1]] else { throw fail("storage type is \(values[t[1]].kind)") }
        guard case .string(let key) = values[t[2]], !key.isEmpty, !key.contains("/"), !key.contains("..") else {
            throw fail("storage key is not a plain name")
        }
        return .storage(PickledStorage(dtypeName: dtype, elementSize: size, key: key, count: try int(t[4], "storage size")))
    }

    /// The arena index of what `callable(*args)` would return.
    mutating func apply(_ callable: AllowedGlobal, _ args: [Int], at offset: Int) throws -> Int {
        switch callable {
        case .orderedDict:
            guard args.isEmpty else { throw fail("OrderedDict called with arguments") }
            return try newDict(at: offset)
        case .rebuildTensor, .rebuildTensorV2:
            guard args.count >= 4, case .storage(let storage) = values[args[0]] else {
                throw fail("_rebuild_tensor_v2 without (storage, offset, size, stride, ...)")
            }
            let tensor = PickledTensor(storage: storage, offset: try int(args[1], "storage offset"),
                                       shape: try ints(args[2], "size"), stride: try ints(args[3], "stride"))
            return try make(.tensor(tensor), children: Array(args.prefix(4)), at: offset)
        case .rebuildParameter, .rebuildParameterWithState:
            guard let first = args.first, case .tensor = values[first] else { throw fail("_rebuild_parameter without a tensor") }
            return first
        case .storageType:
            throw fail("a storage type called directly")
        }
    }
}
