import Foundation

/// The documents of an evaluation corpus: a text file (one document per line), JSON Lines (a string field of
/// each object) or CSV (a column named in the header row).
public struct Corpus: Sendable {
    public enum Format: Sendable, Equatable {
        case lines
        case jsonLines(field: String)
        case csv(column: String)
    }

    /// The documents, in file order, blank ones left out.
    public let documents: [String]
    /// Blank lines or records (empty after trimming), left out.
    public let blank: Int

    public init(documents: [String], blank: Int = 0) {
        self.documents = documents
        self.blank = blank
    }

    /// Reads `data` (the file at `path`, named in errors) as `format`.
    public init(data: Data, format: Format, path: String) throws {
        guard let text = String(data: data, encoding: .utf8) else {
            let line = Corpus.firstInvalidUTF8Line(data)
            throw CorpusError.invalidUTF8(path: path, line: line)
        }
        var documents: [String] = []
        var blank = 0
        func add(_ document: String) {
            let trimmed = document.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { blank += 1 } else { documents.append(trimmed) }
        }
        // Lines split at LF (Swift's split would keep CR LF, one Character, whole); a CR before it is trimmed.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        if lines.last == "" { lines.removeLast() }
        switch format {
        case .lines:
            for line in lines { add(line) }
        case .jsonLines(let field):
            for (index, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                let object: Any
                do { object = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) } catch {
                    throw CorpusError.badRecord(path: path, line: index + 1, detail: "not JSON; --field reads JSON Lines, one object per line")
                }
                guard let dictionary = object as? [String: Any] else {
                    throw CorpusError.badRecord(path: path, line: index + 1, detail: "not a JSON object")
                }
                guard let value = dictionary[field] else {
                    let keys = dictionary.keys.sorted().prefix(8).joined(separator: ", ")
                    throw CorpusError.badRecord(path: path, line: index + 1, detail: "no field \"\(field)\" (it has: \(keys)); name the text's field with --field")
                }
                guard let string = value as? String else {
                    throw CorpusError.badRecord(path: path, line: index + 1, detail: "field \"\(field)\" is not a string")
                }
                add(string)
            }
        case .csv(let column):
            let rows = try CSVReader.rows(text, path: path)
            guard let header = rows.first else { throw CorpusError.badRecord(path: path, line: 1, detail: "empty CSV file: no header row") }
            guard let index = header.fields.firstIndex(of: column) else {
                let names = header.fields.prefix(12).map { "\"\($0)\"" }.joined(separator: ", ")
                throw CorpusError.badRecord(path: path, line: 1, detail: "no column \"\(column)\" in the header (\(names)); name one with --column")
            }
            for row in rows.dropFirst() {
                if row.fields.count == 1, row.fields[0].isEmpty { continue }
                guard index < row.fields.count else {
                    throw CorpusError.badRecord(path: path, line: row.line, detail: "\(row.fields.count) fields, but column \"\(column)\" is field \(index + 1)")
                }
                add(row.fields[index])
            }
        }
        self.documents = documents
        self.blank = blank
    }

    /// The first `limit` documents, then those of shard `shard` of `shards` (1-based: document i, counted from
    /// 0, belongs to shard i mod shards + 1). Returns each kept document with its index in the whole corpus.
    public func select(limit: Int?, shard: Int = 1, of shards: Int = 1) -> [(index: Int, text: String)] {
        let kept = limit.map { documents.prefix($0) } ?? documents[...]
        return kept.enumerated().filter { $0.offset % shards == shard - 1 }.map { (index: $0.offset, text: $0.element) }
    }

    static func firstInvalidUTF8Line(_ data: Data) -> Int {
        var line = 1
        var start = 0
        let bytes = [UInt8](data)
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            if String(bytes: bytes[start..<i], encoding: .utf8) == nil { return line }
            line += 1
            start = i + 1
        }
        return line
    }
}

/// Problems with a corpus file.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
    case invalidUTF8(path: String, line: Int)
    case badRecord(path: String, line: Int, detail: String)

    public var description: String {
        switch self {
        case .invalidUTF8(let path, let line):
            return "\(path): line \(line) is not valid UTF-8; convert the corpus to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        case .badRecord(let path, let line, let detail):
            return "\(path): line \(line): \(detail)"
        }
    }
}

/// RFC 4180 CSV: fields separated by commas, optionally in double quotes (a quote inside doubled), quoted
/// fields may hold commas and line breaks; CRLF or LF line ends.
enum CSVReader {
    struct Row {
        let line: Int
        let fields: [String]
    }

    static func rows(_ text: String, path: String) throws -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var inQuotes = false
        var afterQuote = false
        var line = 1
        var rowLine = 1
        var scalars = Array(text.unicodeScalars)
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        var i = 0
        func endRow() {
            fields.append(field)
            rows.append(Row(line: rowLine, fields: fields))
            fields = []
            field = ""
            afterQuote = false
        }
        while i < scalars.count {
            let c = scalars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < scalars.count, scalars[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 2; continue }
                    inQuotes = false
                    afterQuote = true
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw CorpusError.badRecord(path: path, line: line, detail: "a double quote inside an unquoted field; quote the field and double the quote")
                }
                inQuotes = true
            case ",":
                fields.append(field)
                field = ""
                afterQuote = false
            case "\r" where i + 1 < scalars.count && scalars[i + 1] == "\n":
                break
            case "\n":
                endRow()
                line += 1
                rowLine = line
            default:
                guard !afterQuote else {
                    throw CorpusError.badRecord(path: path, line: line, detail: "text after a closing double quote; put the whole field in quotes")
                }
                field.unicodeScalars.append(c)
            }
            i += 1
        }
        if inQuotes { throw CorpusError.badRecord(path: path, line: rowLine, detail: "a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty || afterQuote { endRow() }
        return rows
    }
}
