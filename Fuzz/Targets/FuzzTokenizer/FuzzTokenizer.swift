// libFuzzer target: the byte-level BPE tokenizer of the tiny fixture (Tests/Fixtures/models/tiny, or the
// directory in MASKSCOPE_FUZZ_TOKENIZER). The first byte picks what the rest is:
//   bit 0 clear: UTF-8 text (invalid sequences become U+FFFD) to encode; bit 1 adds <s>/</s>, bit 2 traces merges.
//   bit 0 set:   ids to decode, 2 bytes each (Int16, so negative and unknown ids too) or, with bit 2, 8 bytes
//                each (any Int); bit 1 skips special tokens.
import Foundation
import FuzzSupport
import Tokenizer

private let tokenizer: BPETokenizer = {
    let directory = ProcessInfo.processInfo.environment["MASKSCOPE_FUZZ_TOKENIZER"].map { URL(fileURLWithPath: $0) }
        ?? Fuzz.repositoryRoot.appendingPathComponent("Tests/Fixtures/models/tiny")
    do { return try BPETokenizer.load(directory: directory) } catch { Fuzz.die("cannot load the tokenizer in \(directory.path): \(error)") }
}()

/// The ids of added tokens (<mask>, <s>, ...): text holding them does not decode back to itself (<mask> takes
/// the space before it).
private let addedIDs = Set(tokenizer.addedTokens.compactMap { $0.id ?? tokenizer.id(of: $0.content) })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let mode = input.first else { return 0 }
    let rest = UnsafeRawBufferPointer(rebasing: input.dropFirst())
    if mode & 1 == 0 {
        encode(String(decoding: rest, as: UTF8.self), special: mode & 2 != 0, trace: mode & 4 != 0)
    } else {
        var ids: [Int] = []
        if mode & 4 == 0 {
            for i in stride(from: 0, to: rest.count - 1, by: 2) { ids.append(Int(Int16(rest[i]) | Int16(rest[i + 1]) << 8)) }
        } else {
            for i in stride(from: 0, to: rest.count - 7, by: 8) { ids.append(Int(rest.loadUnaligned(fromByteOffset: i, as: Int64.self))) }
        }
        for id in ids {
            _ = tokenizer.token(of: id)
            _ = tokenizer.isSpecial(id)
        }
        let text = tokenizer.decode(ids, skipSpecialTokens: mode & 2 != 0)
        Fuzz.accepted("\(ids) decode to \(text.debugDescription)")
    }
    return 0
}

private func encode(_ text: String, special: Bool, trace: Bool) {
    let scalarCount = text.unicodeScalars.count
    let encoding = tokenizer.encode(text, addSpecialTokens: special, trace: trace)
    let n = encoding.ids.count
    Fuzz.accepted("\(n) tokens: \(encoding.tokens)")
    Fuzz.require(encoding.tokens.count == n && encoding.offsets.count == n && encoding.specialTokensMask.count == n,
                 "parallel arrays of different lengths")
    for (id, range) in zip(encoding.ids, encoding.offsets) {
        Fuzz.require(id >= 0 && id < tokenizer.vocabSize, "id \(id) outside the vocabulary of \(tokenizer.vocabSize)")
        Fuzz.require(range.lowerBound >= 0 && range.upperBound <= scalarCount, "offsets \(range) outside \(scalarCount) scalars")
    }
    if special {
        Fuzz.require(n >= 2 && encoding.ids.first == tokenizer.clsID && encoding.ids.last == tokenizer.sepID, "no <s> ... </s>")
    }
    let textIDs = special ? Array(encoding.ids.dropFirst().dropLast()) : encoding.ids
    if trace {
        let traced = encoding.words.flatMap { $0.tokens.map(\.id) }
        Fuzz.require(traced == textIDs, "the trace's tokens \(traced) are not the encoding's \(textIDs)")
        for word in encoding.words {
            Fuzz.require(word.range.lowerBound >= 0 && word.range.upperBound <= scalarCount, "word range \(word.range)")
        }
    }
    // Byte-level BPE loses nothing: every byte has a symbol in this vocabulary, so without added tokens in the text
    // decoding gives the text back (after the clean-up of spaces the tokenizer is configured with).
    if !textIDs.contains(where: addedIDs.contains) {
        let decoded = tokenizer.decode(textIDs)
        let expected = tokenizer.cleanUpTokenizationSpaces ? BPETokenizer.cleanUpTokenization(text) : text
        Fuzz.require(decoded.unicodeScalars.elementsEqual(expected.unicodeScalars),
                     "decode(encode(text)) is not the text: \(Array(text.unicodeScalars)) -> \(textIDs) -> \(Array(decoded.unicodeScalars))")
    }
    _ = tokenizer.id(of: text)
}
