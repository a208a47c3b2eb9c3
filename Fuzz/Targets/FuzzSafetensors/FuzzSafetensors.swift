// libFuzzer target: model.safetensors (8-byte header length, JSON header, data section), as the engine maps it.
import FuzzSupport
@testable import RoBERTa

/// Element sizes of the dtypes safetensors defines (as the reader's own table), to recheck byte counts.
private let elementSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let path = Fuzz.scratchFile(input, name: "model.safetensors")
    do {
        let file = try SafetensorsFile(path: path)
        // What the reader promises: every record lies inside the data section, its byte count is its shape's for
        // a known dtype, and no two non-empty records overlap.
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(input[i]) << (8 * i) }
        let dataStart = 8 + headerLength
        for record in file.tensors.values {
            Fuzz.require(record.begin >= dataStart && record.begin <= record.end && record.end <= size,
                         "\(record.name): [\(record.begin), \(record.end)) outside the data section [\(dataStart), \(size))")
            if let elementSize = elementSizes[record.dtypeName] {
                Fuzz.require(record.elementCount * elementSize == record.end - record.begin,
                             "\(record.name): \(record.shape) x \(elementSize) bytes != \(record.end - record.begin)")
            }
            if let dtype = record.dtype {
                Fuzz.require(record.elementCount * dtype.size == record.bytes.count, "\(record.name): dtype size mismatch")
            }
            // Touch the first and last byte through the record's own view of the map.
            let bytes = record.bytes
            if !bytes.isEmpty { _ = bytes[0] &+ bytes[bytes.count - 1] }
        }
        Fuzz.accepted("\(file.tensors.count) tensors: \(file.tensors.keys.sorted())")
        let sorted = file.tensors.values.filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            Fuzz.require(a.end <= b.begin, "\(a.name) and \(b.name) overlap")
        }
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
