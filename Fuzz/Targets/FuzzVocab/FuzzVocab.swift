// libFuzzer target: vocab.json's fast reader (FastVocabJSON), checked against the JSON readers: whenever the
// fallback (JSONDecoder) also accepts a file, both must read the same vocabulary.
//
// One difference is known and allowed: with a key given twice, FastVocabJSON keeps the last value (as Python's
// json and tokenizers' serde_json do, and JSONSerialization), JSONDecoder the first. So the fast reader's result
// is compared with JSONSerialization's, and must differ from JSONDecoder's only where a key repeats.
import Foundation
import FuzzSupport
@testable import Tokenizer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVocab(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let fast = FastVocabJSON.parse(bytes)
    guard let fast else {
        Fuzz.accepted("not by the fast reader (the loader then uses JSONDecoder)")
        return 0
    }
    Fuzz.accepted("\(fast.count) entries by the fast reader")
    // The fallback may refuse what the fast reader allows (leading zeros); where it accepts, it must agree.
    let data = Data(buffer: bytes)
    guard let slow = try? JSONDecoder().decode([String: Int].self, from: data) else { return 0 }
    Fuzz.require(Set(fast.keys) == Set(slow.keys), "FastVocabJSON read the keys \(fast.keys.sorted()), JSONDecoder \(slow.keys.sorted())")
    // JSONDecoder checks a repeated key's later values lazily, that is never: it accepts {"a": 1, "a": 017}, which
    // JSONSerialization refuses. Values are compared only for documents both Foundation readers take.
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return 0 }
    let lastWins = object.compactMapValues { ($0 as? NSNumber)?.intValue }
    // Foundation's JSONSerialization drops a U+FEFF inside a string ({"\u{FEFF}s": 1} reads as "s"), where JSONDecoder,
    // Python's json and the fast reader keep it: the keys were already checked against JSONDecoder above.
    guard Set(lastWins.keys) == Set(fast.keys) else {
        Fuzz.accepted("keys JSONSerialization reads differently (a U+FEFF inside a key)")
        return 0
    }
    func sorted(_ d: [String: Int]) -> [(String, Int)] { d.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    Fuzz.require(fast == lastWins, "FastVocabJSON read \(sorted(fast)), JSONSerialization \(sorted(lastWins))")
    if fast != slow { Fuzz.accepted("a repeated key: JSONDecoder keeps its first value, the fast reader its last") }
    return 0
}
