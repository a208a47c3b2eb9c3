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
    /// Values nested deeper than `limit` (a state dict needs a handful of levels), refused before they are built.
    case tooDeep(file: String, limit: Int, offset: Int)
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
        case .tooDeep(let file, let limit, let offset):
            return "\(file): the pickle nests values more than \(limit) deep at byte \(offset), which a state dict never does; refusing to read it (the file is corrupt or not a checkpoint)"
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
/// The zip is read by `ZipDirectory`, the pickle by `RestrictedUnpickler`; this maps its tensors onto the entries.
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
        guard case .dict = reader.value(root) else {
            throw PyTorchCheckpointError.notAStateDict(file: path, detail: "the pickle holds \(reader.value(root).kind), not a dict")
        }
        var records: [String: TensorRecord] = [:]
        for (keyValue, value) in reader.items(ofDict: root) {
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
            guard let next = FileArithmetic.product(expected, size) else {
                throw PyTorchCheckpointError.storageOutOfRange(file: file, tensor: name, detail: "size \(tensor.shape) overflows")
            }
            expected = next
        }
        let count = expected
        let size = storage.elementSize
        // Everything below is checked arithmetic: the offset and both counts come from the file and may be near 2^63.
        guard storage.count >= 0, let storageBytes = FileArithmetic.product(storage.count, size), storageBytes <= entry.size else {
            throw PyTorchCheckpointError.storageOutOfRange(
                file: file, tensor: name, detail: "storage \(storage.key) claims \(storage.count) elements but its entry holds \(entry.size) bytes")
        }
        guard let elements = FileArithmetic.range(offset: tensor.offset, count: count, within: storage.count) else {
            throw PyTorchCheckpointError.storageOutOfRange(
                file: file, tensor: name, detail: "\(count) elements from element \(tensor.offset) of a \(storage.count)-element storage")
        }
        // Inside the storage, which lies inside its entry, which lies inside the file: these cannot overflow.
        let begin = entry.offset + elements.lowerBound * size
        return TensorRecord(name: name, dtypeName: storage.dtypeName, shape: tensor.shape, begin: begin, end: begin + count * size, file: mapped)
    }
}

/// The dtypes of a model directory's weights (["F32"], ["F16"], ...), read from the safetensors header or the
/// pickle of pytorch_model.bin without touching the tensor data; for listings.
public func checkpointDTypes(inModelDirectory directory: URL) throws -> [String] {
    var records: [TensorRecord] = []
    switch try CheckpointFiles.choose(in: directory) {
    case .safetensors(let single):
        records = Array(try SafetensorsFile(path: single.path).tensors.values)
    case .shardedSafetensors(_, let shards):
        for shard in shards { records += try SafetensorsFile(path: shard.path).tensors.values }
    case .pytorch(let bin):
        records = Array(try PyTorchCheckpoint(path: bin.path).tensors.values)
    }
    // Integer tensors (position_ids) are bookkeeping, not the weights' precision.
    let floats = Set(records.map(\.dtypeName)).filter { ["F32", "F16", "BF16", "F64"].contains($0) }
    return floats.sorted()
}
