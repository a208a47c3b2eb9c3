import Foundation

/// Element types a safetensors tensor may have; MaskScope computes with the first three.
public enum DType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : 2 }
}

/// One tensor's entry in a safetensors header, pointing into the mapped file.
struct TensorRecord: Sendable {
    let name: String
    let dtypeName: String
    let shape: [Int]
    let begin: Int   // absolute byte offset in the file
    let end: Int
    let file: MappedFile

    var dtype: DType? { DType(rawValue: dtypeName) }
    /// The product of the shape; the readers only make records whose byte count it fits, so it cannot overflow.
    var elementCount: Int { FileArithmetic.product(shape) ?? 0 }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: file.base + begin, count: end - begin) }
}

/// Element sizes of every dtype safetensors defines, so byte counts can be checked for tensors we never use.
private let dtypeSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
]

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header, then the data.
final class SafetensorsFile: @unchecked Sendable {
    static let maxHeaderLength: UInt64 = 100_000_000

    let mapped: MappedFile
    let tensors: [String: TensorRecord]

    init(path: String) throws {
        let mapped = try MappedFile(path: path)
        self.mapped = mapped
        guard mapped.size >= 8 else {
            throw ModelLoadError.truncatedSafetensors(file: path, detail: "\(mapped.size) bytes, shorter than the 8-byte header length")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(mapped.base.load(fromByteOffset: i, as: UInt8.self)) << (8 * UInt64(i)) }
        guard length <= Self.maxHeaderLength else {
            throw ModelLoadError.headerTooLarge(file: path, length: length)
        }
        guard length <= UInt64(mapped.size - 8) else {
            throw ModelLoadError.headerBeyondFile(file: path, length: length, fileSize: mapped.size)
        }
        let headerData = Data(bytes: mapped.base + 8, count: Int(length))
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: headerData) } catch {
            throw ModelLoadError.badSafetensorsHeader(file: path, detail: "header is not JSON: \(jsonErrorDetail(error))")
        }
        guard let header = object as? [String: Any] else {
            throw ModelLoadError.badSafetensorsHeader(file: path, detail: "header is not a JSON object")
        }
        let dataStart = 8 + Int(length)
        let dataLength = mapped.size - dataStart
        var records: [String: TensorRecord] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any],
                  let dtype = entry["dtype"] as? String,
                  let shapeRaw = entry["shape"] as? [Any],
                  let offsetsRaw = entry["data_offsets"] as? [Any], offsetsRaw.count == 2 else {
                throw ModelLoadError.badSafetensorsHeader(file: path, detail: "entry for \(name) needs dtype, shape and two data_offsets")
            }
            let shape = try shapeRaw.map { item -> Int in
                guard let n = JSONNumber.int(item), n >= 0 else {
                    throw ModelLoadError.badSafetensorsHeader(file: path, detail: "shape of \(name) is not a list of non-negative integers")
                }
                return n
            }
            let offsets = try offsetsRaw.map { item -> Int in
                guard let n = JSONNumber.int(item), n >= 0 else {
                    throw ModelLoadError.offsetsOutOfRange(file: path, tensor: name, detail: "offsets are not non-negative integers")
                }
                return n
            }
            guard offsets[0] <= offsets[1] else {
                throw ModelLoadError.offsetsOutOfRange(file: path, tensor: name, detail: "begin \(offsets[0]) is after end \(offsets[1])")
            }
            // dataStart + offsets and the byte count below are checked: the header's numbers are the file's to choose.
            guard offsets[1] <= dataLength else {
                if offsets[1] > dataLength, offsets[0] <= dataLength {
                    throw ModelLoadError.truncatedSafetensors(
                        file: path, detail: "tensor \(name) ends at byte \(offsets[1]) of the data section, which holds only \(dataLength)")
                }
                throw ModelLoadError.offsetsOutOfRange(
                    file: path, tensor: name, detail: "[\(offsets[0]), \(offsets[1])) lies beyond the \(dataLength)-byte data section")
            }
            let byteCount = offsets[1] - offsets[0]
            if let elementSize = dtypeSizes[dtype] {
                let expected = FileArithmetic.product(shape).flatMap { FileArithmetic.product($0, elementSize) }
                guard expected == byteCount else {
                    throw ModelLoadError.byteCountMismatch(file: path, tensor: name, expected: expected ?? Int.max, actual: byteCount)
                }
            } else if FileArithmetic.product(shape) == nil {
                throw ModelLoadError.badSafetensorsHeader(file: path, detail: "shape \(shape) of \(name) has more elements than a file can hold")
            }
            guard let begin = FileArithmetic.sum(dataStart, offsets[0]), let end = FileArithmetic.sum(dataStart, offsets[1]), end <= mapped.size else {
                throw ModelLoadError.offsetsOutOfRange(file: path, tensor: name, detail: "[\(offsets[0]), \(offsets[1])) lies beyond the file")
            }
            records[name] = TensorRecord(name: name, dtypeName: dtype, shape: shape, begin: begin, end: end, file: mapped)
        }
        // Overlap check: sort by start, every tensor must end before the next begins (empty tensors never overlap).
        let sorted = records.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw ModelLoadError.overlappingTensors(file: path, first: a.name, second: b.name)
        }
        tensors = records
    }
}
