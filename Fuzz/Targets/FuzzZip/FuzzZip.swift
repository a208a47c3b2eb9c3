// libFuzzer target: pytorch_model.bin as a whole (the zip torch.save writes, its byteorder entry, the pickled
// state dict, each tensor's place in its storage entry), and the zip directory on its own.
import FuzzSupport
@testable import RoBERTa

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzZip(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let path = Fuzz.scratchFile(input, name: "pytorch_model.bin")
    do {
        let mapped = try MappedFile(path: path)
        let zip = try ZipDirectory(mapped)
        Fuzz.accepted("a zip of \(zip.entries.count) entries: \(zip.entries.keys.sorted())")
        for (name, entry) in zip.entries {
            Fuzz.require(entry.offset >= 0 && entry.size >= 0 && entry.offset <= size && entry.size <= size - entry.offset,
                         "entry \(name): \(entry.size) bytes at \(entry.offset) outside the \(size)-byte file")
        }
    } catch {
        // PyTorchCheckpoint would fail on the same directory: do not pay for the scan twice.
        Fuzz.describe(error)
        return 0
    }
    do {
        let checkpoint = try PyTorchCheckpoint(path: path)
        Fuzz.accepted("a checkpoint of \(checkpoint.tensors.count) tensors: \(checkpoint.tensors.values.map { "\($0.name) \($0.dtypeName) \($0.shape)" }.sorted())")
        for record in checkpoint.tensors.values {
            Fuzz.require(record.begin >= 0 && record.begin <= record.end && record.end <= size,
                         "\(record.name): [\(record.begin), \(record.end)) outside the \(size)-byte file")
            let bytes = record.bytes
            if !bytes.isEmpty { _ = bytes[0] &+ bytes[bytes.count - 1] }
        }
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
