// libFuzzer target: an eval corpus as `maskscope eval` reads it. The first byte picks the format (text lines,
// JSON Lines with the field "text", CSV with the column "text"), the rest is the file. Whatever is read must
// come back unchanged through a CSV that quotes every field, and the shards must split it without loss.
import Foundation
import FuzzSupport
import Scoring

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCorpus(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0, let data else { return 0 }
    let formats: [Corpus.Format] = [.lines, .jsonLines(field: "text"), .csv(column: "text")]
    let format = formats[Int(data[0]) % formats.count]
    let bytes = Data(UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    do {
        let corpus = try Corpus(data: bytes, format: format, path: "corpus")
        Fuzz.accepted("\(corpus.documents.count) documents, \(corpus.blank) blank")
        for document in corpus.documents {
            Fuzz.require(!document.isEmpty && document == document.trimmingCharacters(in: .whitespacesAndNewlines),
                         "a document that is empty or not trimmed: \(document.debugDescription)")
        }
        let quoted = "text\n" + corpus.documents.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"\n" }.joined()
        let again = try Corpus(data: Data(quoted.utf8), format: .csv(column: "text"), path: "again.csv")
        Fuzz.require(again.documents == corpus.documents, "the documents changed through a quoted CSV: \(corpus.documents) -> \(again.documents)")
        for shards in 1...3 {
            let parts = (1...shards).flatMap { corpus.select(limit: nil, shard: $0, of: shards).map(\.index) }
            Fuzz.require(parts.sorted() == Array(corpus.documents.indices), "shards of \(shards) lose or repeat documents")
        }
    } catch let error as CorpusError {
        Fuzz.describe(error)
    } catch {
        Fuzz.require(false, "an error that is not a CorpusError: \(error)")
    }
    return 0
}
