import CKernels
import Foundation

/// This machine's float32 FMA peak, measured by a register-only loop of independent FMAs (CKernels' peak.c) on
/// every thread at once: the ceiling the weight products are judged against.
public struct FMAPeak: Sendable, Equatable {
    /// GFLOP/s summed over `threads` (an FMA counts as 2 flops); 0 without AVX2+FMA.
    public let gflops: Double
    /// The vectors of the loop: 512 (AVX-512F), 256 (AVX2+FMA) or 0.
    public let widthBits: Int
    /// Threads that ran the loop concurrently.
    public let threads: Int
}

/// How fast the encoder's weight products ran for one forward pass of `rows` tokens, against the FMA peak.
public struct ProductRate: Sendable, Equatable {
    /// Input rows (tokens) of every product.
    public let rows: Int
    /// The products timed per pass: 6 per layer (Q, K, V, attention output, intermediate, output).
    public let products: Int
    /// Floating-point operations per pass: 2 * rows * sum(in * out) over those products.
    public let flops: Double
    /// Median seconds of one pass's products over the timed runs.
    public let seconds: Double
    /// The fastest timed pass, in seconds.
    public let bestSeconds: Double
    /// The FMA peak of the threads the products ran on.
    public let peak: FMAPeak

    /// Achieved GFLOP/s over the median pass.
    public var gflops: Double { seconds > 0 ? flops / seconds / 1e9 : 0 }
    /// Achieved GFLOP/s over the fastest pass.
    public var bestGFLOPS: Double { bestSeconds > 0 ? flops / bestSeconds / 1e9 : 0 }
    /// `gflops / peak.gflops`, or 0 when no peak could be measured.
    public var peakFraction: Double { peak.gflops > 0 ? gflops / peak.gflops : 0 }
}

/// The measured peak per thread count: measuring takes ~0.2 s of every core, and the machine does not change.
private final class PeakCache: @unchecked Sendable {
    private let lock = NSLock()
    private var byThreads: [Int: FMAPeak] = [:]

    func peak(threads: Int, measure: () -> FMAPeak) -> FMAPeak {
        lock.lock()
        defer { lock.unlock() }
        if let known = byThreads[threads] { return known }
        let measured = measure()
        byThreads[threads] = measured
        return measured
    }
}

private let peakCache = PeakCache()

extension RobertaModel {
    /// The FMA peak of as many threads as this model's weight products use, measured once per process (~0.2 s).
    public func fmaPeak() -> FMAPeak {
        let threads = compute.threads
        return peakCache.peak(threads: threads) {
            // Only the thread count of the pool is read. Without the kernels (OpenBLAS, which runs the products
            // on `threads` threads) there is no pool, so a sleeping one stands in for the count.
            let stand = compute.pool == nil && threads > 1 ? WorkerPool(threads: threads) : nil
            let pointer = compute.pool?.pointer ?? stand?.pointer
            let gflops = ms_fma_peak_gflops(pointer, 0.2)
            return FMAPeak(gflops: gflops, widthBits: Int(ms_fma_width_bits()), threads: Int(ms_pool_threads(pointer)))
        }
    }

    /// Times the encoder's weight products alone for one forward pass of `rows` tokens: the 6 products of every
    /// layer, each over `rows` input rows, through the same `linear` (and, with the kernels, the same spinning
    /// worker threads) as a real pass. Inputs are fixed nonzero values; two untimed passes come first, then the
    /// median and best of `runs` passes.
    ///
    /// - Throws: `InferenceError.emptyInput` (rows < 1), `.inputTooLong` (more rows than the model takes), or
    ///   `ModelLoadError.fileChanged` when a weight file changed under the passes.
    public func measureProducts(rows: Int, runs: Int) throws -> ProductRate {
        guard rows >= 1 else { throw InferenceError.emptyInput }
        guard rows <= config.maxTokens else { throw InferenceError.inputTooLong(tokens: rows, maximum: config.maxTokens) }
        let runs = max(1, runs)
        let products = weights.layers.flatMap { layer in
            [(layer.query, layer.queryBias), (layer.key, layer.keyBias), (layer.value, layer.valueBias),
             (layer.attentionOutput, layer.attentionOutputBias), (layer.intermediate, layer.intermediateBias),
             (layer.output, layer.outputBias)]
        }
        // Shapes are [out, in] (nn.Linear).
        let widest = products.reduce(1) { max($0, $1.0.shape[0], $1.0.shape[1]) }
        let flops = 2 * Double(rows) * products.reduce(0) { $0 + Double($1.0.shape[0] * $1.0.shape[1]) }
        // x: [rows, widest in], y: [rows, widest out]; values in [-1, 1), none zero, so no product is a trivial one.
        var x = [Float](repeating: 0, count: rows * widest)
        var state: UInt32 = 0x9E37_79B9
        for i in x.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            x[i] = (Float(state >> 8) + 0.5) / Float(1 << 23) - 1
        }
        var y = [Float](repeating: 0, count: rows * widest)
        var times: [Double] = []
        try x.withUnsafeBufferPointer { xs in
            try y.withUnsafeMutableBufferPointer { ys in
                guard let xp = xs.baseAddress, let yp = ys.baseAddress else { return }
                // Two untimed passes first: pages mapped in, caches warm, and whatever a model prepares in its
                // first passes (packing matrices) done before the clock runs.
                let warmup = 2
                for run in 0..<(warmup + runs) {
                    let elapsed = try guardedPass { () -> Double in
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        for (weight, bias) in products {
                            linear(xp, rows: rows, inFeatures: weight.shape[1], weight: weight, bias: bias,
                                   outFeatures: weight.shape[0], into: yp, compute: compute)
                        }
                        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
                    }
                    if run >= warmup { times.append(elapsed) }
                }
            }
        }
        times.sort()
        return ProductRate(rows: rows, products: products.count, flops: flops, seconds: times[(times.count - 1) / 2],
                           bestSeconds: times[0], peak: fmaPeak())
    }
}
