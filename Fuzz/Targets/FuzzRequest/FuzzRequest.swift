// libFuzzer target: a fill-mask request as `maskscope predict` reads it (one JSON document or one JSON Lines
// line), parsed by the Requests library the CLI uses.
import Foundation
import FuzzSupport
import Requests

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    do {
        let request = try FillMaskRequest.parse(Data(UnsafeRawBufferPointer(start: data, count: size)))
        Fuzz.accepted("\(request)")
        Fuzz.require(!request.texts.isEmpty, "a request without texts")
        Fuzz.require(request.shape == .list || request.texts.count == 1, "a single-shaped request with \(request.texts.count) texts")
        if let k = request.topK { Fuzz.require(k >= 1, "top_k \(k)") }
        if let targets = request.targets { Fuzz.require(!targets.isEmpty, "an empty targets list") }
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
