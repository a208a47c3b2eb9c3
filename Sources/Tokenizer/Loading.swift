import Foundation

/// Reading vocab.json, merges.txt and the optional Hugging Face config files.
enum FileLoading {
    static func readData(_ url: URL) throws -> Data {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.missingFile(url)
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(url, detail: "\(error)")
        }
    }

    /// Reads vocab.json: a JSON object mapping token strings to non-negative integer ids.
    static func readVocab(_ url: URL) throws -> [String: Int] {
        let data = try readData(url)
        let vocab: [String: Int]
        if let fast = FastVocabJSON.parse([UInt8](data)) {
            vocab = fast
        } else {
            do {
                vocab = try JSONDecoder().decode([String: Int].self, from: data)
            } catch let error as DecodingError {
                throw TokenizerError.badJSON(file: url, detail: describe(error))
            } catch {
                throw TokenizerError.badJSON(file: url, detail: "\(error)")
            }
        }
        if vocab.isEmpty {
            throw TokenizerError.badJSON(file: url, detail: "the vocabulary is empty")
        }
        if let bad = vocab.first(where: { !BPETokenizer.validIDs.contains($0.value) }) {
            throw TokenizerError.badJSON(
                file: url, detail: "token \(bad.key) has id \(bad.value), outside \(BPETokenizer.validIDs)")
        }
        return vocab
    }

    /// Reads merges.txt the way `tokenizers` does: lines starting with "#version" are skipped,
    /// every other line must be exactly two tokens separated by one space, rank = index among those lines;
    /// both parts and their concatenation must be in the vocabulary. A later duplicate pair overrides.
    static func readMerges(_ url: URL, vocab: [String: Int]) throws -> [UInt64: MergeRule] {
        let bytes = [UInt8](try readData(url))
        // Split on "\n" bytes (not Characters: "\r\n" is one Character in Swift), like Rust's lines().
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if let last = lines.last, last.isEmpty { lines.removeLast() }
        var pairs: [(left: String, right: String, line: Int)] = []
        pairs.reserveCapacity(lines.count)
        let versionPrefix = Array("#version".utf8)
        for (index, rawLine) in lines.enumerated() {
            var line = rawLine
            if line.last == 0x0D { line = line.dropLast() }
            if line.starts(with: versionPrefix) { continue }
            guard let lineText = String(bytes: line, encoding: .utf8) else {
                throw TokenizerError.badMerges(file: url, line: index + 1, detail: "the line is not valid UTF-8")
            }
            let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
            guard parts.count == 2, let leftText = String(bytes: parts[0], encoding: .utf8),
                let rightText = String(bytes: parts[1], encoding: .utf8)
            else {
                throw TokenizerError.badMerges(
                    file: url, line: index + 1,
                    detail: "expected two tokens separated by one space, got \(String(reflecting: lineText))")
            }
            pairs.append((leftText, rightText, index + 1))
        }
        return try mergeRules(pairs, vocab: vocab, file: url)
    }

    /// The merges of tokenizer.json's BPE model: "a b" strings (older files) or ["a", "b"] pairs (newer ones).
    /// `line` in errors is the 1-based index in the list.
    static func mergesFromTokenizerJSON(_ list: [Any], vocab: [String: Int], file: URL) throws -> [UInt64: MergeRule] {
        var pairs: [(left: String, right: String, line: Int)] = []
        pairs.reserveCapacity(list.count)
        for (index, entry) in list.enumerated() {
            if let text = entry as? String {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.badMerges(file: file, line: index + 1, detail: "model.merges entry \(String(reflecting: text)) is not two tokens separated by one space")
                }
                pairs.append((String(parts[0]), String(parts[1]), index + 1))
            } else if let pair = entry as? [Any], pair.count == 2, let left = pair[0] as? String, let right = pair[1] as? String {
                pairs.append((left, right, index + 1))
            } else {
                throw TokenizerError.badMerges(file: file, line: index + 1, detail: "model.merges entry is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
        return try mergeRules(pairs, vocab: vocab, file: file)
    }

    /// Ranks merges in order; both parts and their concatenation must be in the vocabulary.
    static func mergeRules(_ pairs: [(left: String, right: String, line: Int)], vocab: [String: Int], file: URL) throws
        -> [UInt64: MergeRule]
    {
        var merges: [UInt64: MergeRule] = [:]
        merges.reserveCapacity(pairs.count)
        for (rank, pair) in pairs.enumerated() {
            guard let l = vocab[pair.left] else {
                throw TokenizerError.badMerges(file: file, line: pair.line, detail: "token \(pair.left) is not in the vocabulary")
            }
            guard let r = vocab[pair.right] else {
                throw TokenizerError.badMerges(file: file, line: pair.line, detail: "token \(pair.right) is not in the vocabulary")
            }
            guard let merged = vocab[pair.left + pair.right] else {
                throw TokenizerError.badMerges(
                    file: file, line: pair.line, detail: "merged token \(pair.left + pair.right) is not in the vocabulary")
            }
            merges[BPEModel.pairKey(l, r)] = MergeRule(rank: Int32(rank), newID: Int32(merged))
        }
        return merges
    }

    /// tokenizer.json's model.vocab, checked like vocab.json.
    static func vocabFromTokenizerJSON(_ object: Any, file: URL) throws -> [String: Int] {
        guard let dictionary = object as? [String: Any] else {
            throw TokenizerError.badJSON(file: file, detail: "model.vocab is not an object mapping tokens to ids")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(dictionary.count)
        for (token, value) in dictionary {
            guard let id = int(value), BPETokenizer.validIDs.contains(id) else {
                throw TokenizerError.badJSON(file: file, detail: "model.vocab: token \(token) has id \(value), not an id in \(BPETokenizer.validIDs)")
            }
            vocab[token] = id
        }
        if vocab.isEmpty { throw TokenizerError.badJSON(file: file, detail: "model.vocab is empty") }
        return vocab
    }

    /// Reads an optional JSON object file; nil when the file does not exist.
    static func readOptionalObject(_ url: URL) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try readData(url)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError.badJSON(file: url, detail: "\(error.localizedDescription)")
        }
        guard let dictionary = object as? [String: Any] else {
            throw TokenizerError.badJSON(file: url, detail: "the top level is not a JSON object")
        }
        return dictionary
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? context.debugDescription : "\(keys): \(context.debugDescription)"
        }
        switch error {
        case .dataCorrupted(let context): return path(context)
        case .keyNotFound(let key, let context): return "missing key \(key.stringValue) (\(path(context)))"
        case .typeMismatch(_, let context): return path(context)
        case .valueNotFound(_, let context): return path(context)
        @unknown default: return "\(error)"
        }
    }

    /// JSONSerialization on Linux bridges both `true` and `1` to Bool and Int; the number's type code tells them apart.
    static func isJSONBool(_ value: Any?) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    static func bool(_ value: Any?) -> Bool? {
        if let n = value as? NSNumber { return n.boolValue }
        if let b = value as? Bool { return b }
        return nil
    }

    static func int(_ value: Any?) -> Int? {
        if isJSONBool(value) { return nil }
        if let n = value as? NSNumber {
            let d = n.doubleValue
            return d == d.rounded() && abs(d) < 9e15 ? n.intValue : nil
        }
        if let s = value as? String { return Int(s) }
        return nil
    }

    /// Parses an added-token description: a plain string, or an object with content/lstrip/rstrip/... keys.
    static func addedToken(from value: Any, base: AddedToken?, file: URL, key: String) throws -> AddedToken {
        if let content = value as? String {
            if let base, base.content.unicodeScalars.elementsEqual(content.unicodeScalars) { return base }
            return AddedToken(content)
        }
        guard let object = value as? [String: Any], let content = object["content"] as? String else {
            throw TokenizerError.badJSON(file: file, detail: "\(key) is neither a string nor an object with \"content\"")
        }
        var token = AddedToken(content)
        if let base, base.content.unicodeScalars.elementsEqual(content.unicodeScalars) { token = base }
        if let v = bool(object["lstrip"]) { token.lstrip = v }
        if let v = bool(object["rstrip"]) { token.rstrip = v }
        if let v = bool(object["single_word"]) { token.singleWord = v }
        if let v = bool(object["normalized"]) { token.normalized = v }
        if let v = bool(object["special"]) { token.special = v }
        if let v = int(object["id"]) {
            guard BPETokenizer.validIDs.contains(v) else {
                throw TokenizerError.badJSON(file: file, detail: "\(key) has id \(v), outside \(BPETokenizer.validIDs)")
            }
            token.id = v
        }
        return token
    }
}

extension BPETokenizer {
    /// Loads a tokenizer directory: vocab.json and merges.txt (required), plus, when present,
    /// tokenizer.json ("added_tokens", model unk_token, post-processor trim_offsets),
    /// special_tokens_map.json and tokenizer_config.json (token roles and lstrip/rstrip flags,
    /// added_tokens_decoder, clean_up_tokenization_spaces). Without them: RoBERTa's defaults.
    public static func load(directory: URL) throws -> BPETokenizer {
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        let tokenizerJSONURL = directory.appendingPathComponent("tokenizer.json")
        let specialMapURL = directory.appendingPathComponent("special_tokens_map.json")
        let configURL = directory.appendingPathComponent("tokenizer_config.json")

        var tokens = AddedToken.robertaDefaults
        func upsert(_ token: AddedToken) {
            if let index = tokens.firstIndex(where: { $0.content.unicodeScalars.elementsEqual(token.content.unicodeScalars) }) {
                tokens[index] = token
            } else {
                tokens.append(token)
            }
        }
        func existing(_ content: String) -> AddedToken? {
            tokens.first { $0.content.unicodeScalars.elementsEqual(content.unicodeScalars) }
        }

        var options = ModelOptions()
        var embeddedVocab: Any? = nil
        var embeddedMerges: Any? = nil
        if let json = try FileLoading.readOptionalObject(tokenizerJSONURL) {
            if let list = json["added_tokens"] {
                guard let array = list as? [Any] else {
                    throw TokenizerError.badJSON(file: tokenizerJSONURL, detail: "\"added_tokens\" is not an array")
                }
                for (index, entry) in array.enumerated() {
                    let token = try FileLoading.addedToken(
                        from: entry, base: nil, file: tokenizerJSONURL, key: "added_tokens[\(index)]")
                    upsert(token)
                }
            }
            if let model = json["model"] as? [String: Any] {
                if let type = model["type"] as? String, type != "BPE" {
                    throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "model type \(type) (only BPE)")
                }
                options.unkToken = model["unk_token"] as? String
                embeddedVocab = model["vocab"]
                embeddedMerges = model["merges"]
                options.fuseUnknown = FileLoading.bool(model["fuse_unk"]) ?? false
                if FileLoading.bool(model["byte_fallback"]) == true {
                    throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "byte_fallback")
                }
                for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
                    if let s = model[key] as? String, !s.isEmpty {
                        throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "\(key) \(s)")
                    }
                }
            }
            if let pre = json["pre_tokenizer"] as? [String: Any], FileLoading.bool(pre["add_prefix_space"]) == true {
                throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "pre_tokenizer add_prefix_space=true")
            }
            if let normalizer = json["normalizer"], !(normalizer is NSNull) {
                throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "a normalizer")
            }
            if let post = json["post_processor"] as? [String: Any] {
                if let trim = FileLoading.bool(post["trim_offsets"]) { options.trimOffsets = trim }
                if FileLoading.bool(post["add_prefix_space"]) == true {
                    throw TokenizerError.unsupported(file: tokenizerJSONURL, detail: "post_processor add_prefix_space=true")
                }
            }
        }

        var roles = SpecialTokenRoles.roberta
        let roleKeys: [(String, WritableKeyPath<SpecialTokenRoles, String>)] = [
            ("bos_token", \.bos), ("eos_token", \.eos), ("unk_token", \.unk), ("pad_token", \.pad),
            ("mask_token", \.mask), ("cls_token", \.cls), ("sep_token", \.sep),
        ]
        func applyRoles(_ object: [String: Any], file: URL) throws {
            for (key, path) in roleKeys {
                guard let value = object[key], !(value is NSNull) else { continue }
                let content = (value as? String) ?? ((value as? [String: Any])?["content"] as? String)
                let token = try FileLoading.addedToken(
                    from: value, base: content.flatMap { existing($0) }, file: file, key: key)
                roles[keyPath: path] = token.content
                upsert(token)
            }
        }

        if let map = try FileLoading.readOptionalObject(specialMapURL) {
            try applyRoles(map, file: specialMapURL)
        }
        var cleanUp = false
        if let config = try FileLoading.readOptionalObject(configURL) {
            if let decoder = config["added_tokens_decoder"] {
                guard let object = decoder as? [String: Any] else {
                    throw TokenizerError.badJSON(file: configURL, detail: "\"added_tokens_decoder\" is not an object")
                }
                for (key, value) in object.sorted(by: { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }) {
                    guard let id = Int(key), BPETokenizer.validIDs.contains(id) else {
                        throw TokenizerError.badJSON(file: configURL, detail: "added_tokens_decoder key \(key) is not an id")
                    }
                    var token = try FileLoading.addedToken(
                        from: value, base: nil, file: configURL, key: "added_tokens_decoder[\(key)]")
                    token.id = id
                    upsert(token)
                }
            }
            try applyRoles(config, file: configURL)
            let requested = FileLoading.bool(config["clean_up_tokenization_spaces"]) ?? false
            let forceForBPE =
                FileLoading.bool(config["clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"])
                ?? false
            cleanUp = requested && forceForBPE
        }

        // vocab.json and merges.txt as the hub ships them; transformers 5 save_pretrained writes only
        // tokenizer.json, whose BPE model holds the same vocabulary and merges.
        let fileManager = FileManager.default
        let vocab: [String: Int]
        if fileManager.fileExists(atPath: vocabURL.path) || embeddedVocab == nil {
            vocab = try FileLoading.readVocab(vocabURL)
        } else {
            vocab = try FileLoading.vocabFromTokenizerJSON(embeddedVocab as Any, file: tokenizerJSONURL)
        }
        let merges: [UInt64: MergeRule]
        if fileManager.fileExists(atPath: mergesURL.path) || embeddedMerges == nil {
            merges = try FileLoading.readMerges(mergesURL, vocab: vocab)
        } else {
            guard let list = embeddedMerges as? [Any] else {
                throw TokenizerError.badJSON(file: tokenizerJSONURL, detail: "model.merges is not a list")
            }
            merges = try FileLoading.mergesFromTokenizerJSON(list, vocab: vocab, file: tokenizerJSONURL)
        }
        return try BPETokenizer(
            vocab: vocab, merges: merges, specialTokens: tokens, roles: roles,
            cleanUpTokenizationSpaces: cleanUp, options: options)
    }
}
