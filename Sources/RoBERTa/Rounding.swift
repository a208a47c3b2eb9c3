import CKernels
import Foundation

// Rounding float32 weights once at load to the 16-bit format `--precision bf16|f16` asks for. The kernels then
// widen every value exactly as they load it, so the answers are those of the rounded weights in float32.

/// float32 -> bfloat16 bits, round to nearest with ties to even (as torch's `.to(torch.bfloat16)`). A NaN stays
/// NaN: its sign and upper payload are kept and the quiet bit set, so it never rounds to infinity; finite values
/// above the largest bfloat16 round to infinity.
@inline(__always)
func floatToBFloat16(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if bits & 0x7fff_ffff > 0x7f80_0000 { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    return UInt16(truncatingIfNeeded: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16)
}

/// float32 -> IEEE binary16 bits, round to nearest with ties to even, in software (what F16C's vcvtps2ph does):
/// magnitudes from 65520 up round to infinity, below 2^-14 to subnormals (2^-25 and less to zero), a NaN stays a
/// quiet NaN with its sign and upper payload.
func floatToHalf(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let magnitude = bits & 0x7fff_ffff
    if magnitude >= 0x7f80_0000 {
        return magnitude == 0x7f80_0000 ? sign | 0x7c00 : sign | 0x7e00 | UInt16(truncatingIfNeeded: (magnitude >> 13) & 0x3ff)
    }
    if magnitude >= 0x4780_0000 { return sign | 0x7c00 }  // >= 2^16: infinity
    let exponent = Int(magnitude >> 23)
    if exponent < 113 {
        // Below 2^-14: a subnormal half, in units of 2^-24. value = m * 2^(exponent - 150), m with its leading 1.
        if exponent < 102 { return sign }  // < 2^-25: zero
        let m = (magnitude & 0x7f_ffff) | 0x80_0000
        let shift = UInt32(126 - exponent)  // 14...24
        var q = m >> shift
        let rest = m & ((1 << shift) - 1), half = UInt32(1) << (shift - 1)
        if rest > half || (rest == half && q & 1 == 1) { q += 1 }
        return sign | UInt16(q)
    }
    // Normal: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped ones (a carry may reach the
    // exponent, and from 65520 on infinity, as it should).
    var h = UInt32(exponent - 112) << 10 | (magnitude >> 13) & 0x3ff
    let rest = magnitude & 0x1fff
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }
    return sign | UInt16(h)
}

/// The 16-bit formats weights can be rounded to.
enum SixteenBit: Sendable {
    case bf16, f16

    /// The bits of infinity (sign cleared) in this format.
    var infinity: UInt16 { self == .bf16 ? 0x7f80 : 0x7c00 }
}

/// Rounds `count` float32 values at `source` (little-endian, any alignment) to `format` into `out`, with the
/// AVX2/F16C kernels when this CPU has them, else in software; `threads` > 1 splits large arrays into slices.
/// Returns how many finite values overflowed to infinity.
func roundFloats(_ source: UnsafeRawPointer, count: Int, to format: SixteenBit, into out: UnsafeMutablePointer<UInt16>,
                 threads: Int = 1) -> Int {
    let slice = 1 << 20
    let pieces = count > 2 * slice && threads > 1 ? (count + slice - 1) / slice : 1
    if pieces == 1 { return roundSlice(source, count: count, to: format, into: out) }
    let overflows = UnsafeMutableBufferPointer<Int>.allocate(capacity: pieces)
    defer { overflows.deallocate() }
    // Addresses as integers: the slices are disjoint, and concurrentPerform returns after every one is done.
    let (from, to, counts) = (Int(bitPattern: source), Int(bitPattern: out), Int(bitPattern: overflows.baseAddress))
    DispatchQueue.concurrentPerform(iterations: pieces) { p in
        let begin = p * slice, n = min(slice, count - begin)
        let overflow = roundSlice(UnsafeRawPointer(bitPattern: from)! + 4 * begin, count: n, to: format,
                                  into: UnsafeMutablePointer<UInt16>(bitPattern: to)! + begin)
        UnsafeMutablePointer<Int>(bitPattern: counts)![p] = overflow
    }
    return overflows.reduce(0, +)
}

private func roundSlice(_ source: UnsafeRawPointer, count: Int, to format: SixteenBit, into out: UnsafeMutablePointer<UInt16>) -> Int {
    switch format {
    case .bf16:
        return Int(ms_round_bf16(source, out, count))
    case .f16:
        if Compute.kernelsAvailable { return Int(ms_round_f16(source, out, count)) }
        return roundFloatsInSoftware(source, count: count, to: .f16, into: out)
    }
}

/// `roundFloats` one value at a time with `floatToBFloat16` / `floatToHalf` (the reference the kernels are tested against).
func roundFloatsInSoftware(_ source: UnsafeRawPointer, count: Int, to format: SixteenBit, into out: UnsafeMutablePointer<UInt16>) -> Int {
    var overflow = 0
    for i in 0..<count {
        let x = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        let h = format == .bf16 ? floatToBFloat16(x) : floatToHalf(x)
        out[i] = h
        if x.isFinite, h & 0x7fff == format.infinity { overflow += 1 }
    }
    return overflow
}
