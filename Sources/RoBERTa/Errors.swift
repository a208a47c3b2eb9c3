import Foundation

/// Everything that can be wrong with a model directory, each case naming the file and the problem.
public enum ModelLoadError: Error, CustomStringConvertible, Equatable {
    case notADirectory(String)
    case missingFile(String)
    case unreadableFile(String, reason: String)
    /// The file has no bytes at all (an interrupted copy, or a placeholder).
    case emptyFile(String)
    /// The path is a FIFO, directory, socket or device (`kind` says which), which would block or cannot be mapped.
    case notARegularFile(String, kind: String)
    /// A config.json key holds a value of the wrong JSON type: `expected` and `found` describe both.
    case wrongConfigType(file: String, key: String, expected: String, found: String)
    /// A config.json setting the engine does not implement: `value` as written, `supported` what is.
    case unsupportedConfigSetting(file: String, key: String, value: String, supported: String)
    /// A mapped weights file was truncated or rewritten in place after loading (`detail` says how).
    case fileChanged(String, detail: String)
    case badJSON(file: String, detail: String)
    case unsupportedModelType(file: String, modelType: String)
    case unsupportedActivation(file: String, name: String)
    case invalidConfig(file: String, detail: String)
    case headerTooLarge(file: String, length: UInt64)
    case headerBeyondFile(file: String, length: UInt64, fileSize: Int)
    case truncatedSafetensors(file: String, detail: String)
    case badSafetensorsHeader(file: String, detail: String)
    case offsetsOutOfRange(file: String, tensor: String, detail: String)
    case overlappingTensors(file: String, first: String, second: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case byteCountMismatch(file: String, tensor: String, expected: Int, actual: Int)
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    case missingTensor(name: String, files: [String])
    case badShardIndex(file: String, detail: String)
    /// `--precision bf16|f16` without the AVX2 kernels, which are the only code that reads 16-bit matrices.
    case precisionNeedsKernels(precision: String, reason: String)
    /// A weight too large for the 16-bit format it was to be rounded to (float16's largest is 65504).
    case precisionOverflow(file: String, tensor: String, precision: String, count: Int)

    public var description: String {
        switch self {
        case .notADirectory(let path):
            return "\(path): not a model directory (expected a folder with config.json, vocab.json, merges.txt and model.safetensors)"
        case .missingFile(let path):
            return "\(path): file not found; a Hugging Face RoBERTa model directory needs config.json, vocab.json, merges.txt and model.safetensors (or model.safetensors.index.json with its shards)"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read the file (\(reason))"
        case .emptyFile(let path):
            return "\(path): the file is empty (0 bytes); the download or copy was interrupted, fetch it again (maskscope pull NAME)"
        case .notARegularFile(let path, let kind):
            return "\(path): \(kind), not a regular file; MaskScope maps model files from disk, so put the file itself there (a symlink to it is fine)"
        case .fileChanged(let path, let detail):
            return "\(path): the file changed on disk after the model was loaded (\(detail)); load the model again (reopen it, or run the command again)"
        case .wrongConfigType(let file, let key, let expected, let found):
            return "\(file): \(key) must be \(expected) but is \(found); fix the value or take config.json from the model's repository"
        case .unsupportedConfigSetting(let file, let key, let value, let supported):
            return "\(file): \(key) \(value) is not supported; MaskScope runs RobertaForMaskedLM with \(key) \(supported) only, so this checkpoint needs transformers itself"
        case .badJSON(let file, let detail):
            return "\(file): not valid JSON (\(detail))"
        case .unsupportedModelType(let file, let modelType):
            return "\(file): model_type \"\(modelType)\" is not supported; MaskScope runs RoBERTa models (model_type \"roberta\")"
        case .unsupportedActivation(let file, let name):
            return "\(file): hidden_act \"\(name)\" is not supported; use one of gelu, gelu_new, gelu_pytorch_tanh, relu"
        case .invalidConfig(let file, let detail):
            return "\(file): \(detail)"
        case .headerTooLarge(let file, let length):
            return "\(file): safetensors header claims \(length) bytes, above the 100 MB limit; the file is corrupt or not safetensors"
        case .headerBeyondFile(let file, let length, let fileSize):
            return "\(file): safetensors header claims \(length) bytes but the file has only \(fileSize); the file is truncated or not safetensors"
        case .truncatedSafetensors(let file, let detail):
            return "\(file): truncated safetensors file (\(detail)); download it again"
        case .badSafetensorsHeader(let file, let detail):
            return "\(file): bad safetensors header (\(detail))"
        case .offsetsOutOfRange(let file, let tensor, let detail):
            return "\(file): tensor \(tensor) has data offsets out of range (\(detail))"
        case .overlappingTensors(let file, let first, let second):
            return "\(file): tensors \(first) and \(second) overlap in the data section; the file is corrupt"
        case .unsupportedDType(let file, let tensor, let dtype):
            return "\(file): tensor \(tensor) has dtype \(dtype); supported are F32, F16 and BF16"
        case .byteCountMismatch(let file, let tensor, let expected, let actual):
            return "\(file): tensor \(tensor) spans \(actual) bytes but its dtype and shape need \(expected)"
        case .shapeMismatch(let file, let tensor, let expected, let actual):
            return "\(file): tensor \(tensor) has shape \(actual) but config.json implies \(expected)"
        case .missingTensor(let name, let files):
            return "tensor \(name) is missing from \(files.joined(separator: ", ")); the checkpoint is incomplete or not a RobertaForMaskedLM"
        case .precisionNeedsKernels(let precision, let reason):
            return "--precision \(precision) needs MaskScope's AVX2 kernels, the only code that reads 16-bit weight matrices, and they are not in use (\(reason)); run with --precision auto or f32"
        case .precisionOverflow(let file, let tensor, let precision, let count):
            return "\(file): tensor \(tensor) has \(count) value\(count == 1 ? "" : "s") beyond the range of \(precision) (they would become infinity); use --precision bf16, or auto for float32"
        case .badShardIndex(let file, let detail):
            return "\(file): \(detail)"
        }
    }
}

/// Problems with what the user asked the model to do.
public enum InferenceError: Error, CustomStringConvertible, Equatable {
    case noMaskToken(text: String, mask: String)
    case inputTooLong(tokens: Int, maximum: Int)
    case emptyInput
    case noValidTargets([String])
    case badTopK(Int)
    case tokenOutOfRange(id: Int, vocabSize: Int)
    /// The caller's `Cancellation` was set while the forward pass ran.
    case cancelled
    /// The logits at the mask at token `position` were NaN or infinite; `weight` is the first weight holding
    /// NaN or infinity, or nil when every weight is finite (the computation overflowed float32).
    case nonFiniteScores(position: Int, weight: NonFiniteWeight?)
    /// Logits were asked at a token position the sequence does not have.
    case positionOutOfRange(position: Int, tokens: Int)
    /// A knocked-out head the model does not have.
    case noSuchHead(HeadRef, layers: Int, heads: Int)

    public var description: String {
        switch self {
        case .noMaskToken(let text, let mask):
            return "no \(mask) token in \(quoted(text)); put \(mask) where the model should fill in a word"
        case .inputTooLong(let tokens, let maximum):
            return "the input is \(tokens) tokens long but the model takes at most \(maximum); shorten it or ask for truncation (--truncate)"
        case .emptyInput:
            return "the input holds no token ids"
        case .noValidTargets(let targets):
            return "none of the targets \(targets) maps to a token of the vocabulary; give at least one word"
        case .badTopK(let k):
            return "top_k must be at least 1 (got \(k))"
        case .tokenOutOfRange(let id, let vocabSize):
            return "token id \(id) is outside the model's vocabulary of \(vocabSize) (config.json vocab_size); the tokenizer files do not belong to this model"
        case .cancelled:
            return "the run was cancelled before it finished (a newer request replaced it)"
        case .nonFiniteScores(let position, let weight?):
            return "the scores at the mask (token \(position)) are not finite numbers: tensor \(weight.tensor) in \(weight.file) holds \(weight.value) (element \(weight.index)); the checkpoint is corrupt, download it again or use another one"
        case .noSuchHead(let head, let layers, let heads):
            return "there is no head \(head) (LAYER.HEAD, counted from 1): the model has \(layers) layers of \(heads) heads; name heads from 1.1 to \(layers).\(heads)"
        case .positionOutOfRange(let position, let tokens):
            return "token position \(position) is outside the sequence of \(tokens) tokens; ask for positions 0 to \(tokens - 1)"
        case .nonFiniteScores(let position, nil):
            return "the scores at the mask (token \(position)) are not finite numbers although every weight is finite: the computation overflowed float32, so this checkpoint's values are out of range; use another checkpoint"
        }
    }
}

/// A weight that is NaN or infinite: where it is, for `InferenceError.nonFiniteScores`.
public struct NonFiniteWeight: Sendable, Equatable {
    /// The tensor's name in the checkpoint.
    public let tensor: String
    /// The checkpoint file holding it.
    public let file: String
    /// The first non-finite element, counted row-major.
    public let index: Int
    /// "NaN" or "infinity".
    public let value: String

    public init(tensor: String, file: String, index: Int, value: String) {
        self.tensor = tensor
        self.file = file
        self.index = index
        self.value = value
    }
}

func quoted(_ text: String) -> String {
    let limit = 60
    let shown = text.count > limit ? String(text.prefix(limit)) + "…" : text
    return "\"" + shown + "\""
}
