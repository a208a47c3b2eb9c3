import Foundation

/// A streaming SHA-256 (FIPS 180-4), enough to check a download against the hub's LFS object id.
///
/// Written here because Foundation on Linux has no digest API and the package takes no crypto dependency.
struct SHA256: BlockDigest, Sendable {
    var state: [UInt32] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]
    var blocks = BlockFeeder()

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    init() {}

    static let scheduleLength = 64

    /// One block's rounds; `w` holds the block's 16 words, the rest is filled here.
    mutating func compress(words w: UnsafeMutableBufferPointer<UInt32>) {
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var a = state[0], b = state[1], c = state[2], d = state[3]
        var e = state[4], f = state[5], g = state[6], h = state[7]
        Self.k.withUnsafeBufferPointer { k in
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                h = g; g = f; f = e; e = d &+ t1
                d = c; c = b; b = a; a = t1 &+ t2
            }
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }

    @inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    /// The SHA-256 of a whole file, read in 4 MiB pieces.
    static func hexDigest(ofFile url: URL) throws -> String {
        var hasher = SHA256()
        try feedFile(url) { hasher.update($0) }
        return hasher.hexDigest()
    }
}

/// A streaming SHA-1 (FIPS 180-4), for the git blob ids the hub gives small (non-LFS) files as ETags.
struct SHA1: BlockDigest, Sendable {
    var state: [UInt32] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0]
    var blocks = BlockFeeder()

    init() {}

    static let scheduleLength = 80

    /// One block's rounds; `w` holds the block's 16 words, the rest is filled here.
    mutating func compress(words w: UnsafeMutableBufferPointer<UInt32>) {
        for i in 16..<80 {
            let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w[i] = (x << 1) | (x >> 31)
        }
        var a = state[0], b = state[1], c = state[2], d = state[3], e = state[4]
        for i in 0..<80 {
            let (f, k): (UInt32, UInt32) = switch i {
            case 0..<20: ((b & c) | (~b & d), 0x5a827999)
            case 20..<40: (b ^ c ^ d, 0x6ed9eba1)
            case 40..<60: ((b & c) | (b & d) | (c & d), 0x8f1bbcdc)
            default: (b ^ c ^ d, 0xca62c1d6)
            }
            let t = ((a << 5) | (a >> 27)) &+ f &+ e &+ k &+ w[i]
            e = d; d = c; c = (b << 30) | (b >> 2); b = a; a = t
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d; state[4] &+= e
    }

    /// The git blob id of a file: SHA-1 of "blob <size>\0" and the bytes, what the hub sends as the ETag
    /// of a file stored in git rather than LFS.
    static func gitBlobID(ofFile url: URL) throws -> String {
        var hasher = SHA1()
        let size = fileSize(url) ?? 0
        hasher.update(Data("blob \(size)\0".utf8))
        try feedFile(url) { hasher.update($0) }
        return hasher.hexDigest()
    }
}

/// SHA-1 and SHA-256: 64-byte blocks into `compress`, the same padding, the digest read from `state`.
protocol BlockDigest {
    var state: [UInt32] { get }
    var blocks: BlockFeeder { get set }
    /// Words in the message schedule (64 for SHA-256, 80 for SHA-1).
    static var scheduleLength: Int { get }
    mutating func compress(words: UnsafeMutableBufferPointer<UInt32>)
}

extension BlockDigest {
    /// Loads a 64-byte block as 16 big-endian words and runs the rounds.
    mutating func compress(_ block: UnsafeRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: Self.scheduleLength) { w in
            for i in 0..<16 {
                w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
            }
            compress(words: w)
        }
    }

    /// Feeds more bytes.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var feeder = blocks
        feeder.feed(bytes) { compress($0) }
        blocks = feeder
    }

    mutating func update(_ data: Data) {
        data.withUnsafeBytes { update($0) }
    }

    /// The digest as lowercase hex; the hasher is left as it was.
    func hexDigest() -> String {
        var copy = self
        blocks.padding().withUnsafeBytes { copy.update($0) }
        return copy.state.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }
}

/// The 64-byte blocks and the length padding SHA-1 and SHA-256 share.
struct BlockFeeder: Sendable {
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    /// Calls `compress` for every whole 64-byte block, keeping the rest for later.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, compress: (UnsafeRawPointer) -> Void) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(64 - pending.count, bytes.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: take))
            offset = take
            if pending.count == 64 {
                pending.withUnsafeBytes { if let p = $0.baseAddress { compress(p) } }
                pending.removeAll(keepingCapacity: true)
            }
        }
        while bytes.count - offset >= 64 {
            compress(base + offset)
            offset += 64
        }
        if offset < bytes.count {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base + offset, count: bytes.count - offset))
        }
    }

    /// 0x80, zeros, then the message length in bits (64-bit big-endian), to be fed last.
    func padding() -> [UInt8] {
        let bitLength = length &* 8
        let zeros = (56 - (pending.count + 1) % 64 + 64) % 64
        var tail: [UInt8] = [0x80] + [UInt8](repeating: 0, count: zeros)
        for i in (0..<8).reversed() { tail.append(UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i)))) }
        return tail
    }
}

/// Feeds a file to `body` in 4 MiB pieces.
func feedFile(_ url: URL, _ body: (Data) -> Void) throws {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }
    while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { body(chunk) }
}
