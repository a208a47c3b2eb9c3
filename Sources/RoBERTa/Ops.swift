import CKernels
import COpenBLAS
import Dispatch
import Foundation

/// How a forward pass runs its weight products.
struct Compute: Sendable, Equatable {
    /// Threads that share each weight product (split over output features).
    var threads: Int
    /// AVX2/FMA few-row kernels (CKernels) instead of OpenBLAS sgemm/sgemv.
    var useKernels: Bool

    /// Whether this CPU runs the AVX2/FMA kernels.
    static let kernelsAvailable = ms_kernels_available() != 0
}

// One function per operation; shapes in comments are row-major [rows, cols].

/// y[n, out] = x[n, in] · W[out, in]^T + b[out]   (nn.Linear; W is [out, in] row-major)
@inline(__always)
func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
            weight: FloatTensor, bias: FloatTensor, outFeatures: Int, into y: UnsafeMutablePointer<Float>,
            compute: Compute) {
    if compute.useKernels {
        // Each thread streams its own block of weight rows once; blocks are multiples of 4 rows.
        let threads = max(1, min(compute.threads, outFeatures / 64))
        if threads == 1 {
            ms_linear_nt(x, Int32(n), Int32(inFeatures), weight.pointer, bias.pointer, 0, Int32(outFeatures), y, Int32(outFeatures))
            return
        }
        let chunk = ((outFeatures + threads - 1) / threads + 3) / 4 * 4
        let xs = SendablePointer(x), ys = SendableMutablePointer(y), w = weight, b = bias
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let begin = t * chunk, end = min(outFeatures, begin + chunk)
            guard begin < end else { return }
            ms_linear_nt(xs.pointer, Int32(n), Int32(inFeatures), w.pointer, b.pointer, Int32(begin), Int32(end),
                         ys.pointer, Int32(outFeatures))
        }
        return
    }
    for r in 0..<n { (y + r * outFeatures).update(from: bias.pointer, count: outFeatures) }
    if n == 1 {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures),
                    1, weight.pointer, Int32(inFeatures), x, 1, 1, y, 1)
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                    1, x, Int32(inFeatures), weight.pointer, Int32(inFeatures), 1, y, Int32(outFeatures))
    }
}

/// A pointer handed to worker threads that each write a disjoint part of what it points to.
struct SendablePointer: @unchecked Sendable {
    let pointer: UnsafePointer<Float>
    init(_ pointer: UnsafePointer<Float>) { self.pointer = pointer }
}

/// A mutable pointer handed to worker threads that each write a disjoint part of what it points to.
struct SendableMutablePointer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}

/// x[n, h] = LayerNorm(x + residual) with weight/bias [h]; biased variance, eps inside the root (as torch).
@inline(__always)
func addLayerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, rows n: Int, width h: Int,
                  weight: FloatTensor, bias: FloatTensor, eps: Float) {
    let w = weight.pointer, b = bias.pointer
    for r in 0..<n {
        let row = x + r * h
        if let residual {
            let res = residual + r * h
            for i in 0..<h { row[i] += res[i] }
        }
        var sum: Float = 0
        for i in 0..<h { sum += row[i] }
        let mean = sum / Float(h)
        var sq: Float = 0
        for i in 0..<h { let d = row[i] - mean; sq += d * d }
        let inv = 1 / (sq / Float(h) + eps).squareRoot()
        for i in 0..<h { row[i] = (row[i] - mean) * inv * w[i] + b[i] }
    }
}

/// In-place activation over count values.
@inline(__always)
func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ act: Activation, compute: Compute) {
    switch act {
    case .gelu:
        if compute.useKernels {
            ms_gelu_erf(x, count)
            return
        }
        for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
    case .geluNew, .geluPytorchTanh:
        let c: Float = 0.7978845608028654  // sqrt(2/pi)
        for i in 0..<count { let v = x[i]; x[i] = 0.5 * v * (1 + tanhf(c * (v + 0.044715 * v * v * v))) }
    case .relu:
        for i in 0..<count where x[i] < 0 { x[i] = 0 }
    }
}

/// Softmax of one row in place, max-subtracted.
@inline(__always)
func softmaxRow(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var maxValue = -Float.infinity
    for i in 0..<count where x[i] > maxValue { maxValue = x[i] }
    var sum: Float = 0
    for i in 0..<count { let e = expf(x[i] - maxValue); x[i] = e; sum += e }
    let inv = 1 / sum
    for i in 0..<count { x[i] *= inv }
}

/// Sets how many threads OpenBLAS uses from now on (process-wide).
public func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
}

/// Threads OpenBLAS currently uses.
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }
