import Foundation
import Prometheus

/// The server's Prometheus metrics (swift-prometheus), served as text at GET /metrics.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let latency: [String: DurationHistogram]
    private let batchTexts: ValueHistogram
    private let batchRequests: ValueHistogram
    private let queueDepth: Gauge
    private let texts: Counter

    /// Latency buckets, in seconds: 1 ms to 30 s.
    static let latencyBuckets: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
        .map { Duration.nanoseconds(Int64($0 * 1e9)) }

    init(routes: [String]) {
        var latency: [String: DurationHistogram] = [:]
        for route in routes + ["other"] {
            latency[route] = registry.makeDurationHistogram(
                name: "maskscope_http_request_duration_seconds", labels: [("route", route)], buckets: Self.latencyBuckets,
                help: "Time from a request's arrival to its answer")
        }
        self.latency = latency
        let sizes: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        batchTexts = registry.makeValueHistogram(name: "maskscope_batch_texts", buckets: sizes,
                                                 help: "Texts in each batched forward pass")
        batchRequests = registry.makeValueHistogram(name: "maskscope_batch_requests", buckets: sizes,
                                                    help: "Requests answered by each batched forward pass")
        queueDepth = registry.makeGauge(name: "maskscope_queue_texts", help: "Texts waiting for the model")
        texts = registry.makeCounter(name: "maskscope_texts_total", help: "Texts answered")
    }

    /// Counts an answered request by route and status, and records its latency.
    func record(route: String, status: Int, seconds: Double) {
        registry.makeCounter(name: "maskscope_http_requests_total", labels: [("route", route), ("status", String(status))],
                             help: "HTTP requests by route and status").increment()
        (latency[route] ?? latency["other"]!).record(.nanoseconds(Int64(seconds * 1e9)))
    }

    func batchRan(texts count: Int, requests: Int) {
        batchTexts.record(Double(count))
        batchRequests.record(Double(requests))
    }

    func textsAnswered(_ count: Int) { texts.increment(by: Int64(count)) }

    func setQueueDepth(_ depth: Int) { queueDepth.set(Double(depth)) }

    func text() -> [UInt8] { registry.emitToBuffer() }
}
