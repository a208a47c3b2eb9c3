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
        do {
            vocab = try JSONDecoder().decode([String: Int].self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError.badJSON(file: url, detail: describe(error))
        } catch {
            throw TokenizerError.badJSON(file: url, detail: "\(error)")
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
        var merges: [UInt64: MergeRule] = [:]
        merges.reserveCapacity(lines.count)
        var rank: Int32 = 0
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
            let left = leftText
            let right = rightText
            guard let l = vocab[left] else {
                throw TokenizerError.badMerges(file: url, line: index + 1, detail: "token \(left) is not in the vocabulary")
            }
            guard let r = vocab[right] else {
                throw TokenizerError.badMerges(file: url, line: index + 1, detail: "token \(right) is not in the vocabulary")
            }
            guard let merged = vocab[left + right] else {
                throw TokenizerError.badMerges(
                    file: url, line: index + 1, detail: "merged token \(left + right) is not in the vocabulary")
            }
            merges[BPEModel.pairKey(l, r)] = MergeRule(rank: rank, newID: Int32(merged))
            rank += 1
        }
        return merges
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

    static func bool(_ value: Any?) -> Bool? {
        if let b = value as? Bool { return b }
        if let n = value as? NSNumber { return n.boolValue }
        return nil
    }

    static func int(_ value: Any?) -> Int? {
        if value is Bool { return nil }
        if let i = value as? Int { return i }
        if let n = value as? NSNumber { return n.intValue }
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

        return try BPETokenizer(
            vocabURL: vocabURL, mergesURL: mergesURL, specialTokens: tokens, roles: roles,
            cleanUpTokenizationSpaces: cleanUp, options: options)
    }
}
