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
        let data = try readModelFile(url)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ModelLoadError.badJSON(file: file, detail: jsonErrorDetail(error))
        }
        guard let dict = object as? [String: Any] else {
            throw ModelLoadError.badJSON(file: file, detail: "the top level is not an object")
        }
        return try parse(dict, file: file)
    }

    /// Upper bounds far above any RoBERTa (roberta-large: vocabulary 50,265, hidden 1,024, 24 layers, 16 heads,
    /// 4,096 inner, 514 positions). They keep every size the engine derives from these numbers (layers x heads x
    /// tokens^2 of captured attention, the kernels' 32-bit row and column counts) inside Int and Int32.
    static let upperBounds: [(key: String, limit: Int)] = [
        ("vocab_size", 1 << 24), ("hidden_size", 1 << 16), ("num_hidden_layers", 1 << 10),
        ("num_attention_heads", 1 << 10), ("intermediate_size", 1 << 18), ("max_position_embeddings", 1 << 16),
        ("type_vocab_size", 1 << 10),
    ]

    static func parse(_ dict: [String: Any], file: String) throws -> RobertaConfig {
        // Every key we read must have the JSON type transformers gives it: a wrong type is an error naming the key
        // and what was found, never a silent default.
        func wrongType(_ key: String, _ expected: String, _ raw: Any) -> ModelLoadError {
            .wrongConfigType(file: file, key: key, expected: expected, found: describeJSONValue(raw))
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            guard let raw = dict[key] else {
                if let value { return value }
                throw ModelLoadError.invalidConfig(file: file, detail: "\(key) is missing")
            }
            guard let number = JSONNumber.int(raw) else { throw wrongType(key, "a whole number", raw) }
            return number
        }
        func string(_ key: String, default value: String) throws -> String {
            guard let raw = dict[key] else { return value }
            guard let text = raw as? String else { throw wrongType(key, "a string", raw) }
            return text
        }
        func bool(_ key: String, default value: Bool) throws -> Bool {
            guard let raw = dict[key] else { return value }
            guard JSONNumber.isBool(raw), let flag = (raw as? NSNumber)?.boolValue else { throw wrongType(key, "true or false", raw) }
            return flag
        }

        let modelType = try string("model_type", default: "roberta")
        guard modelType == "roberta" else {
            throw ModelLoadError.unsupportedModelType(file: file, modelType: modelType)
        }
        let actName = try string("hidden_act", default: "gelu")
        guard let act = Activation(rawValue: actName) else {
            throw ModelLoadError.unsupportedActivation(file: file, name: actName)
        }
        // Settings that change what RobertaForMaskedLM computes and that the engine does not implement.
        let positions = try string("position_embedding_type", default: "absolute")
        guard positions == "absolute" else {
            throw ModelLoadError.unsupportedConfigSetting(file: file, key: "position_embedding_type", value: "\"\(positions)\"",
                                                          supported: "\"absolute\"")
        }
        for key in ["is_decoder", "add_cross_attention"] where try bool(key, default: false) {
            throw ModelLoadError.unsupportedConfigSetting(file: file, key: key, value: "true", supported: "false")
        }
        var eps: Float = 1e-5
        if let raw = dict["layer_norm_eps"] {
            guard let number = JSONNumber.double(raw) else { throw wrongType("layer_norm_eps", "a number", raw) }
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
            tieWordEmbeddings: try bool("tie_word_embeddings", default: true))
        try config.validate(file: file)
        return config
    }

    /// Checks the numbers before anything computes with them: positive, below `upperBounds`, consistent.
    func validate(file: String) throws {
        func fail(_ detail: String) -> ModelLoadError { .invalidConfig(file: file, detail: detail) }
        let values: [String: Int] = [
            "vocab_size": vocabSize, "hidden_size": hiddenSize, "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads, "intermediate_size": intermediateSize,
            "max_position_embeddings": maxPositionEmbeddings, "type_vocab_size": typeVocabSize,
        ]
        for (name, limit) in Self.upperBounds {
            let value = values[name] ?? 0
            guard value >= 1 else { throw fail("\(name) must be at least 1 (got \(value))") }
            guard value <= limit else { throw fail("\(name) \(value) is beyond any RoBERTa model (at most \(limit)); the file is corrupt") }
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

/// How a JSON value read by JSONSerialization reads in a message: `the string "yes"`, `the number 1`, `true`,
/// `null`, `a list`, `an object`; a long string is cut, with its length.
public func describeJSONValue(_ value: Any) -> String {
    if value is NSNull { return "null" }
    if let text = value as? String {
        let length = text.count
        return length > 40 ? "the string \"\(text.prefix(40))…\" (\(length) characters)" : "the string \"\(text)\""
    }
    if JSONNumber.isBool(value) { return (value as? NSNumber)?.boolValue == true ? "true" : "false" }
    if let whole = JSONNumber.int(value) { return "the number \(whole)" }
    if let number = JSONNumber.double(value) { return "the number \(number)" }
    if value is [Any] { return "a list" }
    if value is [String: Any] { return "an object" }
    return "\(type(of: value))"
}

func jsonErrorDetail(_ error: Error) -> String {
    let ns = error as NSError
    if let debug = ns.userInfo["NSDebugDescription"] as? String { return debug }
    return ns.localizedDescription
}
