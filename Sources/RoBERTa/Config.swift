import Foundation

/// The activation of the feed-forward block, as named by `hidden_act` in config.json.
public enum Activation: String, Sendable {
    case gelu                      // exact erf form (transformers' "gelu")
    case geluNew = "gelu_new"      // tanh approximation
    case geluPytorchTanh = "gelu_pytorch_tanh"
    case relu
}

/// The hyper-parameters of a RoBERTa checkpoint, decoded from config.json (snake_case keys).
public struct RobertaConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    public var padTokenID: Int
    public var hiddenAct: Activation
    public var modelType: String
    public var tieWordEmbeddings: Bool

    /// Width of one attention head.
    public var headSize: Int { hiddenSize / numAttentionHeads }
    /// Longest input in tokens: positions start at pad_token_id + 1.
    public var maxTokens: Int { maxPositionEmbeddings - padTokenID - 1 }

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                intermediateSize: Int, maxPositionEmbeddings: Int = 514, typeVocabSize: Int = 1,
                layerNormEps: Float = 1e-5, padTokenID: Int = 1, hiddenAct: Activation = .gelu,
                modelType: String = "roberta", tieWordEmbeddings: Bool = true) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.padTokenID = padTokenID
        self.hiddenAct = hiddenAct
        self.modelType = modelType
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    /// Reads and validates config.json.
    public static func load(from url: URL) throws -> RobertaConfig {
        let file = url.path
        guard FileManager.default.fileExists(atPath: file) else { throw ModelLoadError.missingFile(file) }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelLoadError.unreadableFile(file, reason: error.localizedDescription)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelLoadError.badJSON(file: file, detail: jsonErrorDetail(error))
        }
        guard let dict = object as? [String: Any] else {
            throw ModelLoadError.badJSON(file: file, detail: "the top level is not an object")
        }
        return try parse(dict, file: file)
    }

    static func parse(_ dict: [String: Any], file: String) throws -> RobertaConfig {
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = dict[key] else {
                if let value { return value }
                throw ModelLoadError.invalidConfig(file: file, detail: "\(key) is missing")
            }
            guard let number = JSONNumber.int(raw) else {
                throw ModelLoadError.invalidConfig(file: file, detail: "\(key) must be a whole number (got \(raw))")
            }
            return number
        }
        let modelType = (dict["model_type"] as? String) ?? "roberta"
        guard modelType == "roberta" else {
            throw ModelLoadError.unsupportedModelType(file: file, modelType: modelType)
        }
        let actName = (dict["hidden_act"] as? String) ?? "gelu"
        guard let act = Activation(rawValue: actName) else {
            throw ModelLoadError.unsupportedActivation(file: file, name: actName)
        }
        var eps: Float = 1e-5
        if let raw = dict["layer_norm_eps"] {
            guard let number = JSONNumber.double(raw) else {
                throw ModelLoadError.invalidConfig(file: file, detail: "layer_norm_eps must be a number (got \(raw))")
            }
            eps = Float(number)
        }
        let config = RobertaConfig(
            vocabSize: try int("vocab_size"),
            hiddenSize: try int("hidden_size"),
            numHiddenLayers: try int("num_hidden_layers"),
            numAttentionHeads: try int("num_attention_heads"),
            intermediateSize: try int("intermediate_size"),
            maxPositionEmbeddings: try int("max_position_embeddings", default: 514),
            typeVocabSize: try int("type_vocab_size", default: 1),
            layerNormEps: eps,
            padTokenID: try int("pad_token_id", default: 1),
            hiddenAct: act,
            modelType: modelType,
            tieWordEmbeddings: dict["tie_word_embeddings"].map { JSONNumber.isBool($0) ? ($0 as? Bool ?? true) : true } ?? true)
        try config.validate(file: file)
        return config
    }

    func validate(file: String) throws {
        func fail(_ detail: String) -> ModelLoadError { .invalidConfig(file: file, detail: detail) }
        for (name, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize),
                              ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                              ("intermediate_size", intermediateSize), ("type_vocab_size", typeVocabSize)]
        where value < 1 {
            throw fail("\(name) must be at least 1 (got \(value))")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw fail("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads)")
        }
        guard padTokenID >= 0, padTokenID < vocabSize else {
            throw fail("pad_token_id \(padTokenID) is outside the vocabulary of \(vocabSize)")
        }
        guard maxTokens >= 3 else {
            throw fail("max_position_embeddings \(maxPositionEmbeddings) leaves no room for tokens after the padding index")
        }
        guard layerNormEps > 0, layerNormEps.isFinite else { throw fail("layer_norm_eps must be positive") }
    }
}

func jsonErrorDetail(_ error: Error) -> String {
    let ns = error as NSError
    if let debug = ns.userInfo["NSDebugDescription"] as? String { return debug }
    return ns.localizedDescription
}
