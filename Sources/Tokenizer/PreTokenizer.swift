/// Character classes used by the GPT-2 split pattern.
enum ScalarClass: UInt8 {
    /// \p{L}: general category Lu, Ll, Lt, Lm or Lo.
    case letter
    /// \p{N}: general category Nd, Nl or No.
    case number
    /// U+0020, the only character the pattern's optional " ?" prefix accepts.
    case space
    /// Any other \s character (Unicode White_Space, which is what Oniguruma's \s matches).
    case whitespace
    /// Everything else ([^\s\p{L}\p{N}]).
    case other

    private static let asciiTable: [ScalarClass] = (0..<128).map { value in
        let scalar = Unicode.Scalar(UInt8(value))
        return classifySlow(scalar)
    }

    /// The class of one scalar.
    @inline(__always)
    static func of(_ scalar: Unicode.Scalar) -> ScalarClass {
        scalar.value < 128 ? asciiTable[Int(scalar.value)] : classifySlow(scalar)
    }

    /// The Unicode version of the Oniguruma tables in `tokenizers` 0.23.3: code points assigned later
    /// (Swift 6.3 ships Unicode 17.0) are unassigned there, so [^\s\p{L}\p{N}] matches them.
    static let referenceUnicodeVersion = (major: 16, minor: 0)

    private static func classifySlow(_ scalar: Unicode.Scalar) -> ScalarClass {
        if scalar == " " { return .space }
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        let cls: ScalarClass
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            cls = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            cls = .number
        default:
            return .other
        }
        if let age = properties.age,
            (age.major, age.minor) > (referenceUnicodeVersion.major, referenceUnicodeVersion.minor)
        {
            return .other
        }
        return cls
    }

    var isWhitespace: Bool { self == .space || self == .whitespace }
}

/// The GPT-2 / RoBERTa pre-tokenizer, written out by hand.
///
/// It reproduces what the `tokenizers` crate (Oniguruma) does with
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`:
/// alternatives are tried in order at each position (first match wins, each greedy),
/// contractions are case-sensitive and use only U+0027, and `\s` is Unicode White_Space.
enum GPT2PreTokenizer {
    /// Splits `scalars[range]` into pre-token ranges (indices into `scalars`), covering it exactly.
    static func split(
        _ scalars: [Unicode.Scalar], classes: [ScalarClass], range: Range<Int>
    ) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let start = i
            let cls = classes[i]
            // 1. Contractions: 's 't 're 've 'm 'll 'd (ASCII apostrophe, lowercase only).
            if scalars[i] == "'" && i + 1 < end {
                let a = scalars[i + 1]
                if a == "s" || a == "t" || a == "m" || a == "d" {
                    pieces.append(i..<(i + 2)); i += 2; continue
                }
                if i + 2 < end {
                    let b = scalars[i + 2]
                    if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
                        pieces.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // 2-4. ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`.
            var runStart = i
            if cls == .space, i + 1 < end, !classes[i + 1].isWhitespace {
                runStart = i + 1
            }
            let runClass = classes[runStart]
            if !runClass.isWhitespace {
                var j = runStart + 1
                while j < end && classes[j] == runClass { j += 1 }
                pieces.append(start..<j); i = j; continue
            }
            // 5-6. `\s+(?!\S)` then `\s+`.
            var j = i + 1
            while j < end && classes[j].isWhitespace { j += 1 }
            if j == end || j - i == 1 {
                pieces.append(i..<j); i = j
            } else {
                pieces.append(i..<(j - 1)); i = j - 1
            }
        }
        return pieces
    }
}
