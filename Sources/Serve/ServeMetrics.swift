import Foundation
import Prometheus

/// The server's counters and histograms, exposed at `/metrics` in Prometheus' text format through swift-prometheus
/// (which validates names and escapes label values). Requests are labelled by route template and status only, so
/// no client can grow the label set.
public final class ServeMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let latency: ValueHistogram
    private let batchSizes: ValueHistogram
    private let inference: ValueHistogram
    private let queueDepth: Gauge

    public init() {
        latency = registry.makeValueHistogram(
            name: "quadrat_request_seconds", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
            help: "Time from request to response.")
        batchSizes = registry.makeValueHistogram(
            name: "quadrat_batch_size", buckets: [1, 2, 4, 8, 16, 32, 64], help: "Images per forward pass.")
        inference = registry.makeValueHistogram(
            name: "quadrat_inference_seconds", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
            help: "Time per forward pass.")
        queueDepth = registry.makeGauge(name: "quadrat_queue_depth", help: "Requests waiting for inference.")
    }

    func request(route: String, status: Int, seconds: Double) {
        // The registry hands back the same counter for the same name and labels.
        registry.makeCounter(
            name: "quadrat_requests_total", labels: [("route", route), ("status", String(status))],
            help: "HTTP requests by route and status."
        ).increment()
        latency.record(seconds)
    }

    func batch(_ report: InferenceQueue.BatchReport) {
        batchSizes.record(Double(report.size))
        inference.record(report.seconds)
    }

    /// The text `/metrics` returns.
    func exposition(queueDepth depth: Int) -> String {
        queueDepth.set(Double(depth))
        return registry.emitToString()
    }
}
