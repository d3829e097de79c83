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

    /// `quadrat_NAME_UNIT` (no unit: `quadrat_NAME`).
    private static func named(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "quadrat", metricName: name, unitName: unit, helpText: help)
    }

    public init() {
        latency = registry.makeValueHistogram(
            descriptor: Self.named("request", unit: "seconds", help: "Time from request to response."),
            buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
        batchSizes = registry.makeValueHistogram(
            descriptor: Self.named("batch_size", help: "Images per forward pass."), buckets: [1, 2, 4, 8, 16, 32, 64])
        inference = registry.makeValueHistogram(
            descriptor: Self.named("inference", unit: "seconds", help: "Time per forward pass."),
            buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
        queueDepth = registry.makeGauge(descriptor: Self.named("queue_depth", help: "Requests waiting for inference."))
    }

    func request(route: String, status: Int, seconds: Double) {
        // The registry hands back the same counter for the same name and labels.
        registry.makeCounter(
            descriptor: Self.named("requests", unit: "total", help: "HTTP requests by route and status."),
            labels: [("route", route), ("status", String(status))]
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
