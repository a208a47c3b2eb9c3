// libFuzzer target: the restricted unpickler on raw pickle bytes (data.pkl of a pytorch_model.bin), then the
// walk PyTorchCheckpoint makes over the state dict it returns.
import FuzzSupport
@testable import RoBERTa

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUnpickler(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var reader = RestrictedUnpickler(bytes: input, file: "data.pkl")
    do {
        let root = try reader.load()
        let value = reader.value(root)
        _ = value.kind
        Fuzz.accepted("a pickle of \(value.kind)")
        guard case .dict = value else { return 0 }
        for (key, item) in reader.items(ofDict: root) {
            _ = key.kind
            if case .tensor(let tensor) = item {
                Fuzz.require(!tensor.storage.key.isEmpty && !tensor.storage.key.contains("/"),
                             "storage key \(tensor.storage.key) is not a plain name")
                Fuzz.require([1, 2, 4, 8].contains(tensor.storage.elementSize), "element size \(tensor.storage.elementSize)")
            }
        }
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
