import Foundation

/// A byte-level BPE tokenizer that reproduces Hugging Face `tokenizers`' RoBERTa pipeline byte for byte.
///
/// Pipeline: added tokens are matched in the raw text (leftmost-longest, <mask> absorbing the whitespace
/// before it), the rest is split by the GPT-2 pre-tokenizer, each piece is turned into bytes, mapped to
/// the byte-level alphabet and merged by BPE; offsets are trimmed as RobertaProcessing(trim_offsets=True)
/// does and <s> ... </s> are added around the result.
public struct BPETokenizer: Sendable {
    let model: BPEModel
    let matcher: AddedTokenMatcher
    /// Added tokens by id.
    let addedByID: [Int: ResolvedAddedToken]
    /// Added tokens by content.
    let addedByContent: [String: Int]
    /// Leading / trailing trim counts (chars that are "Ġ" or White_Space) per vocabulary id.
    let leadingTrim: [UInt8]
    let trailingTrim: [UInt8]
    /// Whether RobertaProcessing trims offsets (true for every RoBERTa checkpoint).
    let trimOffsets: Bool

    /// The added tokens (special or not) with their resolved ids, sorted by id.
    public let addedTokens: [AddedToken]
    /// The roles (bos, eos, ...) of the special tokens.
    public let roles: SpecialTokenRoles
    /// Id of the beginning-of-sequence token (<s>).
    public let bosID: Int
    /// Id of the end-of-sequence token (</s>).
    public let eosID: Int
    /// Id of the padding token (<pad>).
    public let padID: Int
    /// Id of the unknown token (<unk>).
    public let unkID: Int
    /// Id of the mask token (<mask>).
    public let maskID: Int
    /// Id the post-processor puts first (<s>).
    public let clsID: Int
    /// Id the post-processor puts last (</s>).
    public let sepID: Int
    /// Number of embedding rows the ids need: the largest id in the vocabulary or added tokens, plus one.
    public let vocabSize: Int
    /// Number of distinct tokens, what transformers' `len(tokenizer)` reports (50,262 for roberta-base's
    /// vocab.json, which has no ids 50261...50263, while `vocabSize` is 50,265).
    public let tokenCount: Int
    /// Whether decode applies transformers' clean_up_tokenization (" ." -> "." etc.).
    ///
    /// transformers 5.23 defaults clean_up_tokenization_spaces to False and, for BPE tokenizers, ignores
    /// True unless clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output is also set;
    /// this holds the resulting effective value.
    public let cleanUpTokenizationSpaces: Bool

    /// Loads vocab.json and merges.txt with the given added tokens and roles.
    ///
    /// - Parameters:
    ///   - specialTokens: tokens matched in the raw text before pre-tokenization; ids default to vocab.json's.
    ///   - roles: which token is bos, eos, unk, pad, mask, cls and sep; each must have an id.
    ///   - cleanUpTokenizationSpaces: the effective clean-up setting for `decode`.
    public init(
        vocabURL: URL, mergesURL: URL, specialTokens: [AddedToken] = AddedToken.robertaDefaults,
        roles: SpecialTokenRoles = .roberta, cleanUpTokenizationSpaces: Bool = false
    ) throws {
        try self.init(
            vocabURL: vocabURL, mergesURL: mergesURL, specialTokens: specialTokens, roles: roles,
            cleanUpTokenizationSpaces: cleanUpTokenizationSpaces,
            options: ModelOptions())
    }

    /// Ids this implementation accepts (ids index dense tables, so absurd ones are rejected at load).
    public static let validIDs = 0..<(1 << 24)

    /// Settings that tokenizer.json can change; the defaults are RoBERTa's.
    struct ModelOptions {
        var unkToken: String? = nil
        var fuseUnknown = false
        var trimOffsets = true
    }

    init(
        vocabURL: URL, mergesURL: URL, specialTokens: [AddedToken], roles: SpecialTokenRoles,
        cleanUpTokenizationSpaces: Bool, options: ModelOptions
    ) throws {
        let vocab = try FileLoading.readVocab(vocabURL)
        try self.init(
            vocab: vocab, merges: try FileLoading.readMerges(mergesURL, vocab: vocab), specialTokens: specialTokens,
            roles: roles, cleanUpTokenizationSpaces: cleanUpTokenizationSpaces, options: options)
    }

    init(
        vocab: [String: Int], merges: [UInt64: MergeRule], specialTokens: [AddedToken],
        roles: SpecialTokenRoles, cleanUpTokenizationSpaces: Bool, options: ModelOptions
    ) throws {

        // Added tokens: resolve ids (explicit id wins, else vocab.json), later entries override earlier ones.
        var resolvedByContent: [String: ResolvedAddedToken] = [:]
        var order: [String] = []
        for token in specialTokens where !token.content.isEmpty {
            guard let id = token.id ?? vocab[token.content] else {
                throw TokenizerError.missingSpecialToken(token.content)
            }
            guard BPETokenizer.validIDs.contains(id) else {
                throw TokenizerError.invalidTokenID(token: token.content, id: id)
            }
            if resolvedByContent[token.content] == nil { order.append(token.content) }
            var stored = token
            stored.id = id
            resolvedByContent[token.content] = ResolvedAddedToken(
                token: stored, id: id, scalars: Array(token.content.unicodeScalars))
        }
        let resolved = order.compactMap { resolvedByContent[$0] }

        var maxID = vocab.values.max() ?? -1
        for token in resolved { maxID = max(maxID, token.id) }
        var idToToken = [String?](repeating: nil, count: maxID + 1)
        for (token, id) in vocab where id >= 0 { idToToken[id] = token }

        var byteIDs = [Int](repeating: -1, count: 256)
        for byte in 0..<256 {
            byteIDs[byte] = vocab[String(ByteLevel.byteToScalar[byte])] ?? -1
        }

        var leading = [UInt8](repeating: 0, count: maxID + 1)
        var trailing = [UInt8](repeating: 0, count: maxID + 1)
        for (id, token) in idToToken.enumerated() {
            guard let token else { continue }
            leading[id] = UInt8(min(255, BPETokenizer.leadingSpaceCount(token.unicodeScalars)))
            trailing[id] = UInt8(min(255, BPETokenizer.leadingSpaceCount(token.unicodeScalars.reversed())))
        }

        var unkModelID: Int? = nil
        if let unk = options.unkToken {
            guard let id = vocab[unk] else { throw TokenizerError.missingSpecialToken(unk) }
            unkModelID = id
        }

        model = BPEModel(
            vocab: vocab, idToToken: idToToken, byteIDs: byteIDs, merges: merges, unkID: unkModelID,
            fuseUnknown: options.fuseUnknown)
        matcher = AddedTokenMatcher(tokens: resolved)
        var byID: [Int: ResolvedAddedToken] = [:]
        var byContent: [String: Int] = [:]
        for token in resolved {
            byID[token.id] = token
            byContent[token.token.content] = token.id
        }
        addedByID = byID
        addedByContent = byContent
        addedTokens = resolved.map(\.token).sorted { ($0.id ?? 0) < ($1.id ?? 0) }
        leadingTrim = leading
        trailingTrim = trailing
        trimOffsets = options.trimOffsets
        self.roles = roles
        self.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces
        vocabSize = maxID + 1
        tokenCount = vocab.count + resolved.filter { vocab[$0.token.content] == nil }.count

        func roleID(_ token: String) throws -> Int {
            if let id = byContent[token] ?? vocab[token] { return id }
            throw TokenizerError.missingSpecialToken(token)
        }
        bosID = try roleID(roles.bos)
        eosID = try roleID(roles.eos)
        padID = try roleID(roles.pad)
        unkID = try roleID(roles.unk)
        maskID = try roleID(roles.mask)
        clsID = try roleID(roles.cls)
        sepID = try roleID(roles.sep)
    }

    /// Counts leading characters that are "Ġ" or White_Space (what RobertaProcessing trims).
    static func leadingSpaceCount<S: Sequence>(_ scalars: S) -> Int where S.Element == Unicode.Scalar {
        var count = 0
        for scalar in scalars {
            if scalar.value == 0x120 || scalar.properties.isWhitespace { count += 1 } else { break }
        }
        return count
    }

    // MARK: - Vocabulary

    /// The id of a token string (added tokens first, then vocab.json), or nil.
    public func id(of token: String) -> Int? {
        addedByContent[token] ?? model.vocab[token]
    }

    /// The token string of an id (an added token's content, else vocab.json's byte-level string), or nil.
    public func token(of id: Int) -> String? {
        if let added = addedByID[id] { return added.token.content }
        guard id >= 0 && id < model.idToToken.count else { return nil }
        return model.idToToken[id]
    }

    /// Whether an id is a special added token (skipped by `decode(_:skipSpecialTokens: true)`).
    public func isSpecial(_ id: Int) -> Bool {
        addedByID[id]?.token.special ?? false
    }

    /// The rank of merging `left` and `right` (byte-level strings), or nil if merges.txt has no such rule.
    public func mergeRank(_ left: String, _ right: String) -> Int? {
        guard let l = model.vocab[left], let r = model.vocab[right],
            let rule = model.merges[BPEModel.pairKey(l, r)]
        else { return nil }
        return Int(rule.rank)
    }

    // MARK: - Encoding

    /// Encodes text like `tokenizer(text)` in transformers: ids, byte-level tokens, code-point offsets.
    ///
    /// - Parameters:
    ///   - addSpecialTokens: wrap the result in <s> ... </s> (offsets 0..<0, special mask 1).
    ///   - trace: also record, per pre-token, the BPE merge steps in `Encoding.words`.
    public func encode(_ text: String, addSpecialTokens: Bool = true, trace: Bool = false) -> Encoding {
        let scalars = Array(text.unicodeScalars)
        var ids: [Int] = []
        var tokens: [String] = []
        var offsets: [Range<Int>] = []
        var words: [WordTrace] = []
        ids.reserveCapacity(scalars.count / 3 + 2)
        tokens.reserveCapacity(scalars.count / 3 + 2)
        offsets.reserveCapacity(scalars.count / 3 + 2)

        var classes: [ScalarClass] = []
        classes.reserveCapacity(scalars.count)
        for scalar in scalars { classes.append(ScalarClass.of(scalar)) }

        var wordBytes: [UInt8] = []
        // For each UTF-8 byte of the word's byte-level string: the input scalar it came from
        // (tokenizers maps token offsets back through these per-byte alignments).
        var normToScalar: [Int] = []

        for piece in matcher.split(scalars) {
            if let added = piece.token {
                let value = scalars[piece.range]
                var range = piece.range
                if trimOffsets {
                    range = BPETokenizer.trim(
                        range, leading: BPETokenizer.leadingSpaceCount(value),
                        trailing: BPETokenizer.leadingSpaceCount(value.reversed()))
                }
                ids.append(added.id)
                tokens.append(added.token.content)
                offsets.append(range)
                if trace {
                    var view = String.UnicodeScalarView()
                    view.append(contentsOf: value)
                    words.append(
                        WordTrace(
                            kind: .addedToken, text: String(view), range: piece.range,
                            byteLevel: added.token.content, initialSymbols: [added.token.content], steps: [],
                            tokens: [TraceToken(id: added.id, token: added.token.content, offsets: range)]))
                }
                continue
            }
            if piece.range.isEmpty { continue }
            for word in GPT2PreTokenizer.split(scalars, classes: classes, range: piece.range) {
                wordBytes.removeAll(keepingCapacity: true)
                normToScalar.removeAll(keepingCapacity: true)
                for index in word {
                    let before = wordBytes.count
                    BPETokenizer.appendUTF8(scalars[index], to: &wordBytes)
                    for k in before..<wordBytes.count {
                        let n = ByteLevel.mappedUTF8Length[Int(wordBytes[k])]
                        normToScalar.append(index)
                        if n == 2 { normToScalar.append(index) }
                    }
                }
                let result = model.tokenize(wordBytes, trace: trace)
                let firstToken = ids.count
                for symbol in result.symbols {
                    let start = normToScalar[symbol.normalizedStart]
                    let end = normToScalar[symbol.normalizedEnd - 1] + 1
                    var range = start..<end
                    if trimOffsets {
                        let id = symbol.id
                        let lead = id < leadingTrim.count ? Int(leadingTrim[id]) : 0
                        let trail = id < trailingTrim.count ? Int(trailingTrim[id]) : 0
                        if lead > 0 || trail > 0 { range = BPETokenizer.trim(range, leading: lead, trailing: trail) }
                    }
                    ids.append(symbol.id)
                    tokens.append(model.idToToken[symbol.id] ?? "")
                    offsets.append(range)
                }
                if trace {
                    words.append(
                        makeTrace(
                            scalars: scalars, word: word, bytes: wordBytes, result: result,
                            tokenIDs: Array(ids[firstToken...]), tokenOffsets: Array(offsets[firstToken...])))
                }
            }
        }

        var mask = [Int](repeating: 0, count: ids.count)
        if addSpecialTokens {
            ids = [clsID] + ids + [sepID]
            tokens = [token(of: clsID) ?? ""] + tokens + [token(of: sepID) ?? ""]
            offsets = [0..<0] + offsets + [0..<0]
            mask = [1] + mask + [1]
        }
        return Encoding(ids: ids, tokens: tokens, offsets: offsets, specialTokensMask: mask, words: words)
    }

    /// RobertaProcessing's offset trimming (in code points).
    @inline(__always)
    static func trim(_ range: Range<Int>, leading: Int, trailing: Int) -> Range<Int> {
        var start = range.lowerBound
        var end = range.upperBound
        if leading > 0 { start = min(start + leading, end) }
        if trailing > 0 && end >= trailing { end = max(end - trailing, start) }
        return start..<end
    }

    @inline(__always)
    static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        let v = scalar.value
        if v < 0x80 {
            bytes.append(UInt8(v))
        } else if v < 0x800 {
            bytes.append(UInt8(0xC0 | (v >> 6)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            bytes.append(UInt8(0xE0 | (v >> 12)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            bytes.append(UInt8(0xF0 | (v >> 18)))
            bytes.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    private func symbolString(_ id: Int) -> String {
        model.idToToken.indices.contains(id) ? (model.idToToken[id] ?? "") : ""
    }

    private func makeTrace(
        scalars: [Unicode.Scalar], word: Range<Int>, bytes: [UInt8],
        result: (symbols: [BPESymbol], initial: [Int], steps: [BPEModel.RawStep]),
        tokenIDs: [Int], tokenOffsets: [Range<Int>]
    ) -> WordTrace {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[word])
        let steps = result.steps.map { raw in
            MergeStep(
                before: raw.before.map(symbolString), position: raw.position, left: symbolString(raw.left),
                right: symbolString(raw.right), merged: symbolString(raw.merged), rank: raw.rank,
                after: raw.after.map(symbolString))
        }
        let traceTokens = zip(tokenIDs, tokenOffsets).map { id, range in
            TraceToken(id: id, token: symbolString(id), offsets: range)
        }
        return WordTrace(
            kind: .bpe, text: String(view), range: word, byteLevel: ByteLevel.encode(bytes),
            initialSymbols: result.initial.map(symbolString), steps: steps, tokens: traceTokens)
    }

    // MARK: - Decoding

    /// Decodes ids like transformers' `tokenizer.decode`: ByteLevel decoder, invalid UTF-8 as U+FFFD.
    ///
    /// Unknown ids are skipped (as `tokenizers` does); added tokens decode to their content;
    /// `decode([id])` is the fill-mask pipeline's `token_str` (e.g. " capital", with its space).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            let token: String
            if let added = addedByID[id] {
                if skipSpecialTokens && added.token.special { continue }
                token = added.token.content
            } else if id >= 0 && id < model.idToToken.count, let vocabToken = model.idToToken[id] {
                // tokenizers checks specialness by content; a vocab string equal to a special token's content counts.
                if skipSpecialTokens, let addedID = addedByContent[vocabToken], addedByID[addedID]?.token.special == true {
                    continue
                }
                token = vocabToken
            } else {
                continue
            }
            if let raw = ByteLevel.decode(token) {
                bytes.append(contentsOf: raw)
            } else {
                bytes.append(contentsOf: Array(token.utf8))
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return cleanUpTokenizationSpaces ? BPETokenizer.cleanUpTokenization(text) : text
    }

    /// transformers' `clean_up_tokenization`: the same chain of literal (code-point) replacements as Python.
    public static func cleanUpTokenization(_ text: String) -> String {
        let replacements: [(String, String)] = [
            (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
            (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
        ]
        var scalars = Array(text.unicodeScalars)
        for (from, to) in replacements {
            scalars = replaceLiteral(scalars, Array(from.unicodeScalars), Array(to.unicodeScalars))
        }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    private static func replaceLiteral(
        _ s: [Unicode.Scalar], _ from: [Unicode.Scalar], _ to: [Unicode.Scalar]
    ) -> [Unicode.Scalar] {
        guard !from.isEmpty, s.count >= from.count else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + from.count <= s.count && s[i] == from[0] && Array(s[i..<(i + from.count)]) == from {
                out.append(contentsOf: to)
                i += from.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
