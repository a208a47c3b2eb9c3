/// Rank and result of one merge rule.
struct MergeRule: Sendable {
    /// 0-based rank (lower merges first).
    var rank: Int32
    /// Id of the merged token.
    var newID: Int32
}

/// One symbol of the BPE output: its id and its range in the word's byte-level string, in UTF-8 bytes
/// of that string (the unit `tokenizers` keeps offsets in before mapping them back).
struct BPESymbol {
    var id: Int
    var normalizedStart: Int
    var normalizedEnd: Int
}

/// The byte-level BPE model: vocabulary, merges, and the merge loop of `tokenizers`' `Word::merge_all`.
struct BPEModel: Sendable {
    /// Token string to id, as read from vocab.json.
    let vocab: [String: Int]
    /// Id to token string (nil where vocab.json has no such id).
    let idToToken: [String?]
    /// Id of the single-character token for each byte, or -1 if the vocabulary lacks it.
    let byteIDs: [Int]
    /// Merge rules keyed by `pairKey(left, right)`.
    let merges: [UInt64: MergeRule]
    /// Id of the model's unknown token, if it has one (RoBERTa's BPE model has none).
    let unkID: Int?
    /// Whether consecutive unknown characters fuse into one unknown token.
    let fuseUnknown: Bool

    @inline(__always)
    static func pairKey(_ left: Int, _ right: Int) -> UInt64 {
        (UInt64(UInt32(truncatingIfNeeded: left)) << 32) | UInt64(UInt32(truncatingIfNeeded: right))
    }

    /// A merge step as recorded by the tracing path (symbol ids, not strings).
    struct RawStep {
        var before: [Int]
        var position: Int
        var left: Int
        var right: Int
        var merged: Int
        var rank: Int
        var after: [Int]
    }

    /// Heap entry: a candidate merge at a symbol position.
    private struct Candidate {
        var rank: Int32
        var pos: Int32
        var newID: Int32

        @inline(__always)
        func precedes(_ other: Candidate) -> Bool {
            rank != other.rank ? rank < other.rank : pos < other.pos
        }
    }

    /// Min-heap ordered by (rank, position), like `tokenizers`' BinaryHeap of `Merge`.
    private struct Heap {
        var items: [Candidate] = []

        mutating func push(_ c: Candidate) {
            items.append(c)
            var i = items.count - 1
            while i > 0 {
                let parent = (i - 1) / 2
                if items[i].precedes(items[parent]) {
                    items.swapAt(i, parent)
                    i = parent
                } else {
                    break
                }
            }
        }

        mutating func pop() -> Candidate? {
            guard let first = items.first else { return nil }
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                let n = items.count
                while true {
                    let l = 2 * i + 1
                    let r = l + 1
                    var best = i
                    if l < n && items[l].precedes(items[best]) { best = l }
                    if r < n && items[r].precedes(items[best]) { best = r }
                    if best == i { break }
                    items.swapAt(i, best)
                    i = best
                }
            }
            return first
        }
    }

    /// Runs BPE over one word given as raw bytes.
    ///
    /// Returns the final symbols, the initial symbol ids, and (when `trace` is set) every merge step.
    func tokenize(_ bytes: [UInt8], trace: Bool) -> (symbols: [BPESymbol], initial: [Int], steps: [RawStep]) {
        // Build the initial symbols: one per byte-level character; unknown characters are dropped
        // (no unk token) or become the unk token, exactly as `BPE::merge_word` does.
        var c: [Int] = []
        var len: [Int] = []
        c.reserveCapacity(bytes.count)
        len.reserveCapacity(bytes.count)
        var pendingUnk: Int? = nil  // pending unk length
        for byte in bytes {
            let id = byteIDs[Int(byte)]
            let byteLen = ByteLevel.mappedUTF8Length[Int(byte)]
            if id >= 0 {
                if let pending = pendingUnk, let unk = unkID {
                    c.append(unk); len.append(pending)
                    pendingUnk = nil
                }
                c.append(id); len.append(byteLen)
            } else if let unk = unkID {
                if let pending = pendingUnk {
                    if fuseUnknown {
                        pendingUnk = pending + byteLen
                    } else {
                        c.append(unk); len.append(pending)
                        pendingUnk = byteLen
                    }
                } else {
                    pendingUnk = byteLen
                }
            }
        }
        if let pending = pendingUnk, let unk = unkID {
            c.append(unk); len.append(pending)
        }
        let initial = trace ? c : []
        var steps: [RawStep] = []

        let n = c.count
        if n > 1 {
            var prev = [Int](repeating: -1, count: n)
            var next = [Int](repeating: -1, count: n)
            for i in 0..<n {
                prev[i] = i - 1
                next[i] = i + 1 < n ? i + 1 : -1
            }
            var heap = Heap()
            heap.items.reserveCapacity(n)
            for i in 0..<(n - 1) {
                if let rule = merges[BPEModel.pairKey(c[i], c[i + 1])] {
                    heap.push(Candidate(rank: rule.rank, pos: Int32(i), newID: rule.newID))
                }
            }
            while let top = heap.pop() {
                let pos = Int(top.pos)
                if len[pos] == 0 { continue }
                let nextPos = next[pos]
                if nextPos < 0 { continue }
                // Skip stale entries: the pair now at `pos` must still produce the same token.
                guard let rule = merges[BPEModel.pairKey(c[pos], c[nextPos])], rule.newID == top.newID else {
                    continue
                }
                var before: [Int] = []
                var position = 0
                if trace {
                    before = BPEModel.liveSymbols(c, len)
                    position = BPEModel.liveIndex(of: pos, len)
                }
                let leftID = c[pos]
                let rightID = c[nextPos]
                c[pos] = Int(top.newID)
                len[pos] += len[nextPos]
                len[nextPos] = 0
                let rightNext = next[nextPos]
                next[pos] = rightNext
                if rightNext >= 0 { prev[rightNext] = pos }
                if trace {
                    steps.append(
                        RawStep(
                            before: before, position: position, left: leftID, right: rightID,
                            merged: Int(top.newID), rank: Int(top.rank), after: BPEModel.liveSymbols(c, len)))
                }
                let p = prev[pos]
                if p >= 0, let rule = merges[BPEModel.pairKey(c[p], c[pos])] {
                    heap.push(Candidate(rank: rule.rank, pos: Int32(p), newID: rule.newID))
                }
                if rightNext >= 0, let rule = merges[BPEModel.pairKey(c[pos], c[rightNext])] {
                    heap.push(Candidate(rank: rule.rank, pos: Int32(pos), newID: rule.newID))
                }
            }
        }

        var symbols: [BPESymbol] = []
        symbols.reserveCapacity(n)
        var offset = 0
        for i in 0..<n where len[i] != 0 {
            symbols.append(BPESymbol(id: c[i], normalizedStart: offset, normalizedEnd: offset + len[i]))
            offset += len[i]
        }
        return (symbols, initial, steps)
    }

    private static func liveSymbols(_ c: [Int], _ len: [Int]) -> [Int] {
        var out: [Int] = []
        for i in 0..<c.count where len[i] != 0 { out.append(c[i]) }
        return out
    }

    private static func liveIndex(of pos: Int, _ len: [Int]) -> Int {
        var index = 0
        for i in 0..<pos where len[i] != 0 { index += 1 }
        return index
    }
}
