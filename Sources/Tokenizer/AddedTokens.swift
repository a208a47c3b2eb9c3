/// A token matched in the raw text before pre-tokenization (e.g. <s>, <mask>), as in `tokenizers`' AddedVocabulary.
public struct AddedToken: Sendable, Hashable {
    /// The literal text of the token.
    public var content: String
    /// Its id; nil means "look it up in vocab.json".
    public var id: Int?
    /// Only match when not inside a word (no \w character directly before or after).
    public var singleWord: Bool
    /// Absorb the whitespace directly before the match.
    public var lstrip: Bool
    /// Absorb the whitespace directly after the match.
    public var rstrip: Bool
    /// Matched in the second (normalized) pass rather than the first; with no normalizer only the order differs.
    public var normalized: Bool
    /// Special tokens are dropped by `decode(_:skipSpecialTokens: true)`.
    public var special: Bool

    /// Creates an added token.
    public init(
        _ content: String, id: Int? = nil, singleWord: Bool = false, lstrip: Bool = false,
        rstrip: Bool = false, normalized: Bool = false, special: Bool = true
    ) {
        self.content = content
        self.id = id
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }

    /// RoBERTa's special tokens as the hub's tokenizer.json declares them: <s>, <pad>, </s>, <unk> plain, <mask> lstrip.
    public static let robertaDefaults: [AddedToken] = [
        AddedToken("<s>", normalized: true),
        AddedToken("<pad>", normalized: true),
        AddedToken("</s>", normalized: true),
        AddedToken("<unk>", normalized: true),
        AddedToken("<mask>", lstrip: true),
    ]
}

/// Which token plays which role (bos, eos, ...); ids are looked up from these strings.
public struct SpecialTokenRoles: Sendable, Hashable {
    /// Beginning-of-sequence token.
    public var bos: String
    /// End-of-sequence token.
    public var eos: String
    /// Unknown token.
    public var unk: String
    /// Padding token.
    public var pad: String
    /// Mask token.
    public var mask: String
    /// Classifier token the post-processor puts first.
    public var cls: String
    /// Separator token the post-processor puts last.
    public var sep: String

    /// Creates a role assignment.
    public init(bos: String, eos: String, unk: String, pad: String, mask: String, cls: String, sep: String) {
        self.bos = bos
        self.eos = eos
        self.unk = unk
        self.pad = pad
        self.mask = mask
        self.cls = cls
        self.sep = sep
    }

    /// RoBERTa's roles: <s> (bos, cls), </s> (eos, sep), <unk>, <pad>, <mask>.
    public static let roberta = SpecialTokenRoles(
        bos: "<s>", eos: "</s>", unk: "<unk>", pad: "<pad>", mask: "<mask>", cls: "<s>", sep: "</s>")

    var all: [String] { [bos, eos, unk, pad, mask, cls, sep] }
}

/// An added token ready for matching: its scalars and resolved id.
struct ResolvedAddedToken: Sendable {
    var token: AddedToken
    var id: Int
    var scalars: [Unicode.Scalar]
}

/// Splits raw text on added tokens the way `AddedVocabulary::extract_and_normalize` does.
struct AddedTokenMatcher: Sendable {
    /// Tokens matched in the first pass (normalized == false), then the second.
    let passes: [[ResolvedAddedToken]]

    init(tokens: [ResolvedAddedToken]) {
        let nonNormalized = tokens.filter { !$0.token.normalized && !$0.scalars.isEmpty }
        let normalized = tokens.filter { $0.token.normalized && !$0.scalars.isEmpty }
        passes = [nonNormalized, normalized].filter { !$0.isEmpty }
    }

    /// A piece of the input: a range of scalar indices, and the added token matched there (if any).
    struct Piece {
        var range: Range<Int>
        var token: ResolvedAddedToken?
    }

    /// Splits `scalars` into plain pieces and added-token pieces, covering it exactly.
    func split(_ scalars: [Unicode.Scalar]) -> [Piece] {
        var pieces = [Piece(range: 0..<scalars.count, token: nil)]
        for pass in passes {
            var next: [Piece] = []
            next.reserveCapacity(pieces.count)
            for piece in pieces {
                if piece.token != nil {
                    next.append(piece)
                } else {
                    next.append(contentsOf: findMatches(scalars, in: piece.range, tokens: pass))
                }
            }
            pieces = next
        }
        return pieces
    }

    /// Leftmost-longest, non-overlapping matching within one piece, then single_word / lstrip / rstrip.
    private func findMatches(
        _ s: [Unicode.Scalar], in range: Range<Int>, tokens: [ResolvedAddedToken]
    ) -> [Piece] {
        if range.isEmpty { return [Piece(range: range, token: nil)] }
        var pieces: [Piece] = []
        var startOffset = range.lowerBound
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            var best: ResolvedAddedToken? = nil
            for candidate in tokens {
                let n = candidate.scalars.count
                if n > end - i { continue }
                if let b = best, b.scalars.count >= n { continue }
                var equal = true
                for k in 0..<n where s[i + k] != candidate.scalars[k] {
                    equal = false
                    break
                }
                if equal { best = candidate }
            }
            guard let match = best else {
                i += 1
                continue
            }
            var start = i
            var stop = i + match.scalars.count
            i = stop
            if match.token.singleWord {
                let startSpace = start == range.lowerBound || !isWordScalar(s[start - 1])
                let stopSpace = stop == end || !isWordScalar(s[stop])
                if !startSpace || !stopSpace { continue }
            }
            if match.token.lstrip {
                var newStart = start
                while newStart > range.lowerBound && s[newStart - 1].properties.isWhitespace { newStart -= 1 }
                start = max(newStart, startOffset)
            }
            if match.token.rstrip {
                while stop < end && s[stop].properties.isWhitespace { stop += 1 }
            }
            if startOffset < start {
                pieces.append(Piece(range: startOffset..<start, token: nil))
            }
            pieces.append(Piece(range: start..<stop, token: match))
            startOffset = stop
        }
        if startOffset != end {
            pieces.append(Piece(range: startOffset..<end, token: nil))
        }
        return pieces
    }

    /// Rust regex's Unicode `\w`: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
    private func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        let p = scalar.properties
        if p.isAlphabetic || p.isJoinControl { return true }
        switch p.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation:
            return true
        default:
            return false
        }
    }
}
