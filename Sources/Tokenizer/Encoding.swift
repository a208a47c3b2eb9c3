/// The result of encoding one text: ids, byte-level tokens, offsets and (optionally) the merge trace.
public struct Encoding: Sendable, Equatable {
    /// Token ids, including <s> and </s> when special tokens were added.
    public var ids: [Int]
    /// Vocabulary form of each token (byte-level, e.g. "Ġis"; added tokens by their content, e.g. "<mask>").
    public var tokens: [String]
    /// Offsets into the input in Unicode scalar (code point) units, as `tokenizers` reports them
    /// with trim_offsets=True; tokens added by the post-processor get 0..<0.
    public var offsets: [Range<Int>]
    /// 1 for tokens added by the post-processor (<s>, </s>), 0 for tokens that come from the text.
    public var specialTokensMask: [Int]
    /// Per pre-token merge traces, in text order; empty unless tracing was requested.
    public var words: [WordTrace]

    /// Creates an encoding from its parts.
    public init(
        ids: [Int], tokens: [String], offsets: [Range<Int>], specialTokensMask: [Int],
        words: [WordTrace] = []
    ) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.specialTokensMask = specialTokensMask
        self.words = words
    }

    /// Number of tokens.
    public var count: Int { ids.count }
}

/// One final token of a traced word.
public struct TraceToken: Sendable, Equatable {
    /// Token id.
    public var id: Int
    /// Vocabulary form of the token.
    public var token: String
    /// Offsets in Unicode scalar units, exactly as in `Encoding.offsets`.
    public var offsets: Range<Int>

    /// Creates a trace token.
    public init(id: Int, token: String, offsets: Range<Int>) {
        self.id = id
        self.token = token
        self.offsets = offsets
    }
}

/// One BPE merge step: the symbols before it, the pair merged and the symbols after it.
public struct MergeStep: Sendable, Equatable {
    /// Symbols (byte-level strings) before this merge.
    public var before: [String]
    /// Index in `before` of the left symbol of the merged pair.
    public var position: Int
    /// Left symbol of the pair.
    public var left: String
    /// Right symbol of the pair.
    public var right: String
    /// The merged symbol (left + right).
    public var merged: String
    /// Rank of the merge (0-based line number in merges.txt after the #version header; lower merges first).
    public var rank: Int
    /// Symbols after this merge.
    public var after: [String]

    /// Creates a merge step.
    public init(
        before: [String], position: Int, left: String, right: String, merged: String, rank: Int,
        after: [String]
    ) {
        self.before = before
        self.position = position
        self.left = left
        self.right = right
        self.merged = merged
        self.rank = rank
        self.after = after
    }
}

/// How one pre-token ("word") of the input became tokens.
public struct WordTrace: Sendable, Equatable {
    /// What produced the word.
    public enum Kind: Sendable, Equatable {
        /// A piece of the GPT-2 pre-tokenizer, run through byte-level BPE.
        case bpe
        /// An added token (e.g. <mask>) matched in the raw text; `steps` is empty.
        case addedToken
    }

    /// What produced the word.
    public var kind: Kind
    /// The word's text as it appears in the input (for an lstrip added token, including the absorbed whitespace).
    public var text: String
    /// Where the word lies in the input, in Unicode scalar units.
    public var range: Range<Int>
    /// The word's bytes in byte-level form (e.g. "Ġcapital"); for an added token, its content.
    public var byteLevel: String
    /// The initial symbols, one per byte (characters missing from the vocabulary are already dropped or <unk>).
    public var initialSymbols: [String]
    /// The merges applied, in order.
    public var steps: [MergeStep]
    /// The final tokens of this word with ids and offsets.
    public var tokens: [TraceToken]

    /// Creates a word trace.
    public init(
        kind: Kind, text: String, range: Range<Int>, byteLevel: String, initialSymbols: [String],
        steps: [MergeStep], tokens: [TraceToken]
    ) {
        self.kind = kind
        self.text = text
        self.range = range
        self.byteLevel = byteLevel
        self.initialSymbols = initialSymbols
        self.steps = steps
        self.tokens = tokens
    }
}
