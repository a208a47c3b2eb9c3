import RoBERTa
import Tokenizer

/// What the workbench knows about one loaded model, without holding the model itself.
public struct ModelInfo: Equatable, Sendable {
    /// Short name shown in the status line (the directory's last component).
    public var name: String
    /// How the user named it (`--model DIR`), kept verbatim for sessions.
    public var path: String
    public var layers: Int
    public var heads: Int
    /// The longest input in tokens, <s> and </s> included.
    public var maxTokens: Int
    /// The directory it was loaded from, when known (matches it with the model picker's catalogue).
    public var directory: String?
    /// The teacher layers its layers were initialised from, when its config.json or model card says (distilled models).
    public var layerOrigin: LayerOrigin?

    public init(name: String, path: String, layers: Int, heads: Int, maxTokens: Int, directory: String? = nil,
                layerOrigin: LayerOrigin? = nil) {
        self.layerOrigin = layerOrigin
        self.name = name
        self.path = path
        self.layers = layers
        self.heads = heads
        self.maxTokens = maxTokens
        self.directory = directory
    }
}

/// One token of the analysed text.
public struct TokenRow: Equatable, Sendable {
    public var id: Int
    /// The vocabulary (byte-level) form, e.g. "Ġcapital".
    public var byteLevel: String
    /// The decoded form with whitespace made visible, e.g. "␣capital".
    public var readable: String
    /// Where it lies in the text, in Unicode scalars; empty for <s> and </s>.
    public var span: Range<Int>
    /// Index into `Analysis.words` of the word it came from, if any.
    public var word: Int?

    public init(id: Int, byteLevel: String, readable: String, span: Range<Int>, word: Int?) {
        self.id = id
        self.byteLevel = byteLevel
        self.readable = readable
        self.span = span
        self.word = word
    }
}

/// A candidate for one mask, reduced to what the panes show.
public struct CandidateRow: Equatable, Sendable {
    public var id: Int
    /// The token as decoded, leading space kept (" capital").
    public var text: String
    public var probability: Float

    public init(id: Int, text: String, probability: Float) {
        self.id = id
        self.text = text
        self.probability = probability
    }
}

/// The candidates of one mask.
public struct MaskRow: Equatable, Sendable {
    /// Token index of the mask.
    public var position: Int
    /// Where `<mask>` (with the whitespace it absorbed) lies in the text, in Unicode scalars.
    public var span: Range<Int>
    public var candidates: [CandidateRow]

    public init(position: Int, span: Range<Int>, candidates: [CandidateRow]) {
        self.position = position
        self.span = span
        self.candidates = candidates
    }
}

/// Everything one run over one text and one model produced; `error` is set when fill-mask could not run
/// (no mask yet, too long), while the tokens are still there.
public struct Analysis: Equatable, Sendable {
    public var text: String
    public var tokens: [TokenRow]
    public var words: [WordTrace]
    public var masks: [MaskRow]
    public var attention: AttentionMaps?
    /// Wall time of the run, in seconds.
    public var latency: Double
    public var error: String?
    /// The masked-LM logits over the whole vocabulary at each mask ([mask][vocab], in mask order), kept when the
    /// request asked for them (compare mode: the measures between the two models need whole distributions).
    public var maskLogits: [[Float]]?
    /// The heads knocked out for this run (their context zeroed before the output projection).
    public var knockout: Set<HeadRef> = []
    /// What the attention pane shows besides the weights, when the request asked for it: the norms
    /// ‖α·f(x)‖ (Kobayashi et al. 2020) and the rollout through the layers (Abnar & Zuidema 2020, one "head").
    public var norms: AttentionMaps?
    public var rollout: AttentionMaps?
    /// The logit lens at each mask (in mask order), when the request asked for it (the lens view is open).
    public var lens: [MaskLens]?
    /// Per layer and head, what the head's attention looks like (entropy, share to <s>, previous token…) and a label.
    public var headStats: [[HeadStatistics]]?

    public init(text: String, tokens: [TokenRow], words: [WordTrace] = [], masks: [MaskRow] = [],
                attention: AttentionMaps? = nil, latency: Double = 0, error: String? = nil, maskLogits: [[Float]]? = nil) {
        self.text = text
        self.tokens = tokens
        self.words = words
        self.masks = masks
        self.attention = attention
        self.latency = latency
        self.error = error
        self.maskLogits = maskLogits
    }
}

/// Makes whitespace and control characters visible: spaces as "␣", line breaks and tabs escaped.
public func visibleWhitespace(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case " ": out += "␣"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}

/// What the attention pane's values are: the weights, their norms, or the rollout through the layers.
public enum AttentionValues: String, CaseIterable, Codable, Sendable {
    /// The attention probabilities α (softmax of QKᵀ/√d).
    case weights
    /// ‖α_ij · f(x_j)‖: how much each key's transformed vector moves the query (Kobayashi et al. 2020).
    case norms
    /// The mean over heads with the residual (0.5 A + 0.5 I), multiplied through the layers (Abnar & Zuidema 2020).
    case rollout

    /// The next mode in the cycle weights → norms → rollout → weights.
    public var next: AttentionValues {
        let all = Self.allCases
        return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
    }

    /// What the pane's title says the values are.
    public var title: String {
        switch self {
        case .weights: return "weights"
        case .norms: return "norms ‖αf(x)‖"
        case .rollout: return "rollout"
        }
    }
}

extension Analysis {
    /// The maps the attention pane shows in `mode` (nil while the run for that mode has not come back).
    public func maps(_ mode: AttentionValues) -> AttentionMaps? {
        switch mode {
        case .weights: return attention
        case .norms: return norms
        case .rollout: return rollout
        }
    }
}

/// Knocked-out heads as the status line says them: "1.2, 3.4" (layer.head, counted from 1), in order.
public func knockoutList(_ heads: Set<HeadRef>) -> String {
    heads.sorted().map(\.description).joined(separator: ", ")
}

extension AttentionMaps {
    /// The map the attention pane shows: one head's [query][key] matrix, or the mean over the layer's heads.
    public func shown(layer: Int, head: Int, meanOverHeads: Bool) -> [Float] {
        guard meanOverHeads else { return Array(matrix(layer: layer, head: head)) }
        var sum = [Float](repeating: 0, count: tokens * tokens)
        for h in 0..<heads {
            for (i, v) in matrix(layer: layer, head: h).enumerated() { sum[i] += v }
        }
        return sum.map { $0 / Float(heads) }
    }
}
