import Foundation
import Torch

/// The server's counters and histograms, exposed at `/metrics` in Prometheus' text format.
public final class ServeMetrics: Sendable {
    /// Cumulative-bucket histogram: counts per upper bound, a sum and a count.
    struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(_ bounds: [Double]) {
            self.bounds = bounds
            counts = Array(repeating: 0, count: bounds.count)
        }

        mutating func observe(_ value: Double) {
            for (i, bound) in bounds.enumerated() where value <= bound { counts[i] += 1 }
            sum += value
            count += 1
        }

        func lines(_ name: String) -> [String] {
            zip(bounds, counts).map { "\(name)_bucket{le=\"\($0)\"} \($1)" }
                + ["\(name)_bucket{le=\"+Inf\"} \(count)", "\(name)_sum \(sum)", "\(name)_count \(count)"]
        }
    }

    private struct State {
        var requests: [String: Int] = [:]  // "route status" → count
        var latency = Histogram([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10])
        var batchSizes = Histogram([1, 2, 4, 8, 16, 32, 64])
        var inference = Histogram([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
    }
    private let state = Locked(State())

    public init() {}

    func request(route: String, status: Int, seconds: Double) {
        state.withLock {
            $0.requests["\(route) \(status)", default: 0] += 1
            $0.latency.observe(seconds)
        }
    }

    func batch(_ report: InferenceQueue.BatchReport) {
        state.withLock {
            $0.batchSizes.observe(Double(report.size))
            $0.inference.observe(report.seconds)
        }
    }

    /// The text `/metrics` returns.
    func exposition(queueDepth: Int) -> String {
        state.withLock { s in
            var lines = [
                "# HELP quadrat_requests_total HTTP requests by route and status.",
                "# TYPE quadrat_requests_total counter",
            ]
            for key in s.requests.keys.sorted() {
                let parts = key.split(separator: " ")
                lines.append(
                    "quadrat_requests_total{route=\"\(parts[0])\",status=\"\(parts[1])\"} \(s.requests[key] ?? 0)")
            }
            lines += [
                "# HELP quadrat_request_seconds Time from request to response.",
                "# TYPE quadrat_request_seconds histogram",
            ]
            lines += s.latency.lines("quadrat_request_seconds")
            lines += ["# HELP quadrat_batch_size Images per forward pass.", "# TYPE quadrat_batch_size histogram"]
            lines += s.batchSizes.lines("quadrat_batch_size")
            lines += [
                "# HELP quadrat_inference_seconds Time per forward pass.", "# TYPE quadrat_inference_seconds histogram",
            ]
            lines += s.inference.lines("quadrat_inference_seconds")
            lines += ["# HELP quadrat_queue_depth Requests waiting for inference.", "# TYPE quadrat_queue_depth gauge"]
            lines.append("quadrat_queue_depth \(queueDepth)")
            return lines.joined(separator: "\n") + "\n"
        }
    }
}
