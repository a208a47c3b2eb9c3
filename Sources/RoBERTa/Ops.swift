import CKernels
import COpenBLAS
import Foundation

/// How a forward pass runs its weight products.
struct Compute: Sendable {
    /// Threads that share each weight product (split over output features).
    let threads: Int
    /// AVX2/FMA few-row kernels (CKernels) instead of OpenBLAS sgemm/sgemv.
    let useKernels: Bool
    /// The worker threads of the kernels (nil with one thread or without kernels).
    let pool: WorkerPool?
    /// Whether a product may pack its matrix into panels: from the second forward pass on, so that the first
    /// answer never waits for packing.
    let packing: PackingGate

    init(threads: Int, useKernels: Bool) {
        self.threads = max(1, threads)
        self.useKernels = useKernels
        pool = useKernels && threads > 1 ? WorkerPool(threads: threads) : nil
        packing = PackingGate()
    }

    /// Whether this CPU runs the AVX2/FMA kernels.
    static let kernelsAvailable = ms_kernels_available() != 0

    /// Runs one forward pass with the workers spinning between products, then lets them sleep.
    func forwardPass<T>(_ body: () throws -> T) rethrows -> T {
        defer { packing.passFinished() }
        guard let pool else { return try body() }
        ms_pool_set_active(pool.pointer, 1)
        defer { ms_pool_set_active(pool.pointer, 0) }
        return try body()
    }
}

/// Opens once a forward pass has finished: from then on a product may pack its matrix.
final class PackingGate: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false

    func passFinished() {
        lock.lock()
        open = true
        lock.unlock()
    }

    var allowed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return open
    }
}

/// Lets another thread stop a forward pass early: the encoder looks before every layer and throws
/// `InferenceError.cancelled`. The workbench cancels a run whose text has been edited since it started;
/// its answer would be dropped as stale anyway.
public final class Cancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false

    public init() {}

    public func cancel() {
        lock.lock()
        flag = true
        lock.unlock()
    }

    public var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return flag
    }
}

/// Owns a CKernels thread pool: threads - 1 workers that sleep unless a forward pass runs.
final class WorkerPool: @unchecked Sendable {
    let pointer: OpaquePointer

    init?(threads: Int) {
        guard let pool = ms_pool_create(Int32(threads)) else { return nil }
        pointer = pool
    }

    deinit { ms_pool_destroy(pointer) }
}

// One function per operation; shapes in comments are row-major [rows, cols].

/// y[n, out] = x[n, in] · W[out, in]^T + b[out]   (nn.Linear; W is [out, in] row-major)
///
/// `segments`: the rows of each sequence of a packed batch. The kernels compute every row the same way whatever
/// the others, so they take all rows at once; OpenBLAS picks its blocking (and so its summation order) by the
/// row count, so it runs each sequence's rows on their own, to give each the numbers of its own pass.
@inline(__always)
func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
            weight: LinearWeight, bias: FloatTensor, outFeatures: Int, into y: UnsafeMutablePointer<Float>,
            compute: Compute, segments: [Range<Int>]) {
    if !compute.useKernels, segments.count > 1 {
        for segment in segments where !segment.isEmpty {
            linear(x + segment.lowerBound * inFeatures, rows: segment.count, inFeatures: inFeatures, weight: weight,
                   bias: bias, outFeatures: outFeatures, into: y + segment.lowerBound * outFeatures, compute: compute)
        }
        return
    }
    linear(x, rows: n, inFeatures: inFeatures, weight: weight, bias: bias, outFeatures: outFeatures, into: y, compute: compute)
}

@inline(__always)
func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
            weight: LinearWeight, bias: FloatTensor, outFeatures: Int, into y: UnsafeMutablePointer<Float>,
            compute: Compute) {
    if compute.useKernels, let panels = weight.panels {
        // Panels of 32 outputs, which the threads take in turn (CKernels panels.c).
        ms_pool_matrix(compute.pool?.pointer, panels.pointer, compute.packing.allowed ? 1 : 0, x, Int32(n), bias.pointer,
                       y, Int32(outFeatures))
        return
    }
    if compute.useKernels {
        // The threads take blocks of weight rows in turn; each block's rows are streamed once.
        ms_pool_linear(compute.pool?.pointer, x, Int32(n), Int32(inFeatures), weight.raw, weight.storage.kernelType, bias.pointer,
                       Int32(outFeatures), y, Int32(outFeatures))
        return
    }
    for r in 0..<n { (y + r * outFeatures).update(from: bias.pointer, count: outFeatures) }
    if n == 1 {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures),
                    1, weight.floats, Int32(inFeatures), x, 1, 1, y, 1)
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                    1, x, Int32(inFeatures), weight.floats, Int32(inFeatures), 1, y, Int32(outFeatures))
    }
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
            ms_pool_gelu(compute.pool?.pointer, x, count)
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
func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
}
