import COpenBLAS
import Foundation

// One function per operation; shapes in comments are row-major [rows, cols].

/// y[n, out] = x[n, in] · W[out, in]^T + b[out]   (nn.Linear; W is [out, in] row-major)
@inline(__always)
func linear(_ x: UnsafePointer<Float>, rows n: Int, inFeatures: Int,
            weight: FloatTensor, bias: FloatTensor, outFeatures: Int, into y: UnsafeMutablePointer<Float>) {
    for r in 0..<n { (y + r * outFeatures).update(from: bias.pointer, count: outFeatures) }
    if n == 1 {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outFeatures), Int32(inFeatures),
                    1, weight.pointer, Int32(inFeatures), x, 1, 1, y, 1)
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                    1, x, Int32(inFeatures), weight.pointer, Int32(inFeatures), 1, y, Int32(outFeatures))
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
func activate(_ x: UnsafeMutablePointer<Float>, count: Int, _ act: Activation) {
    switch act {
    case .gelu:
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

/// Sets how many threads OpenBLAS uses from now on.
public func setBLASThreads(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
}

/// Threads OpenBLAS currently uses.
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }
