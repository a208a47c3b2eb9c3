// libFuzzer target: config.json, read and validated as a model directory's is.
import Foundation
import FuzzSupport
import RoBERTa

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let path = Fuzz.scratchFile(UnsafeRawBufferPointer(start: data, count: size), name: "config.json")
    do {
        let config = try RobertaConfig.load(from: URL(fileURLWithPath: path))
        Fuzz.accepted("\(config)")
        // What validate() promises to everything that sizes buffers from these numbers.
        let sizes = [config.vocabSize, config.hiddenSize, config.numHiddenLayers, config.numAttentionHeads,
                     config.intermediateSize, config.maxPositionEmbeddings, config.typeVocabSize]
        Fuzz.require(sizes.allSatisfy { $0 >= 1 && $0 <= 1 << 24 }, "a size outside 1...2^24: \(sizes)")
        Fuzz.require(config.hiddenSize % config.numAttentionHeads == 0, "hidden \(config.hiddenSize) % heads \(config.numAttentionHeads)")
        Fuzz.require(config.padTokenID >= 0 && config.padTokenID < config.vocabSize, "pad_token_id \(config.padTokenID)")
        Fuzz.require(config.maxTokens >= 3, "max tokens \(config.maxTokens)")
        Fuzz.require(config.layerNormEps > 0 && config.layerNormEps.isFinite, "layer_norm_eps \(config.layerNormEps)")
    } catch {
        Fuzz.describe(error)
    }
    return 0
}
