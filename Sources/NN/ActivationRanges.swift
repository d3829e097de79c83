import Torch

/// The range of every activation of a graph over calibration photos, by value name, chosen to minimise the
/// quantization error: as PyTorch's histogram observer does, the range that gives the least mean squared error
/// between a value and its uint8 round trip, clipping the rare outliers when that costs less than the coarser steps
/// a full range would give every other value. The error is measured on an even sample of each activation
/// (``samplesPerBatch`` values per batch) over shrinking ranges from the overall min and max.
public struct ActivationRanges: Codable, Sendable, Equatable {
    /// Value name → [low, high].
    public var ranges: [String: [Float]]
    /// The per-channel means of each convolution's input, by value name: the INT8 convolution corrects its bias by
    /// the mean error that rounding its weights makes on such input (bias correction, Nagel et al. 2019).
    public var means: [String: [Float]] = [:]
    /// How many photos were seen.
    public var photos: Int
    /// How the ranges were made.
    public var observer = "least squared uint8 error over ranges shrunk from the min and max, on sampled values"

    /// Values sampled per activation and batch.
    static let samplesPerBatch = 2048

    public init(ranges: [String: [Float]], photos: Int) {
        (self.ranges, self.photos) = (ranges, photos)
    }

    /// The per-channel means of value `name` as a tensor, when observed.
    func meanTensor(_ name: String) throws -> Tensor? { try means[name].map { try Tensor($0, shape: [$0.count]) } }

    /// The parameters for value `name`; a `cap` (ReLU6's 6) bounds the top, a `floor` (a ReLU's 0) the bottom.
    func parameters(_ name: String, cap: Float? = nil, floor: Float? = nil) throws -> QuantizationParameters {
        guard let r = ranges[name], r.count == 2 else {
            throw TorchError("INT8 calibration has no range for \(name): calibrate the model again")
        }
        return QuantizationParameters(
            low: floor.map { max(r[0], $0) } ?? r[0], high: cap.map { min(r[1], $0) } ?? r[1])
    }

    /// Watches `graph` run on each batch of `batches` (normalised images, fed as `input`) up to `output`; the batches
    /// are read one at a time, so only one batch's activations are held.
    public static func observe<Batches: Sequence<Tensor>>(
        _ graph: InferenceGraph, input: String, output: String, batches: Batches
    ) throws -> ActivationRanges {
        let runner = try GraphRunner(graph)
        let convInputs = Set(graph.nodes.filter { $0.op == "Conv" }.map { $0.inputs[0] })
        var seen: [String: Observed] = [:]
        var photos = 0
        for x in batches {
            try seen[input, default: Observed()].add(x, mean: convInputs.contains(input))
            _ = try runner.run([input: x], output: output) { node, y in
                try seen[node.output, default: Observed()].add(y, mean: convInputs.contains(node.output))
            }
            photos += x.shape[0]
        }
        var ranges = ActivationRanges(ranges: seen.mapValues { $0.bestRange() }, photos: photos)
        for (name, observed) in seen {
            if let sum = observed.meanSum {
                ranges.means[name] = try (sum / Double(observed.batches)).toArray(Float.self)
            }
        }
        return ranges
    }

    /// One activation's overall extremes and a sample of its values.
    struct Observed {
        var low = Float.infinity, high = -Float.infinity
        var sample: [Float] = []
        /// The sum over batches of each batch's per-channel mean, when asked for.
        var meanSum: Tensor?
        var batches = 0

        mutating func add(_ y: Tensor, mean: Bool) throws {
            batches += 1
            if mean {
                let m = try y.mean([0, 2, 3])
                meanSum = try meanSum.map { try $0 + m } ?? m
            }
            low = min(low, Float(try y.min().item()))
            high = max(high, Float(try y.max().item()))
            // Every `stride`-th element of the storage (dense in either memory format, so no copy first); a prime
            // stride, so that the sample does not fall on a few channels.
            let stride = Self.prime(atLeast: max(1, y.count / ActivationRanges.samplesPerBatch))
            let n = (y.count + stride - 1) / stride
            let dense = y.isContiguous() || y.isContiguous(.channelsLast) ? y : try y.contiguous()
            sample += try dense.asStrided([n], strides: [stride]).contiguous().toArray(Float.self)
        }

        /// The range of least squared round-trip error among the extremes shrunk by 0–75 % in 5 % steps.
        func bestRange() -> [Float] {
            var best = (error: Double.infinity, range: [low, high])
            for step in 0...15 {
                let f = 1 - Float(step) * 0.05
                let q = QuantizationParameters(low: low * f, high: high * f)
                let (scale, zero) = (Float(q.scale), Float(q.zeroPoint))
                var error = 0.0
                for v in sample {
                    let r = (min(max((v / scale).rounded() + zero, 0), 255) - zero) * scale - v
                    error += Double(r * r)
                }
                if error < best.error { best = (error, [low * f, high * f]) }
            }
            return best.range
        }

        static func prime(atLeast n: Int) -> Int {
            func isPrime(_ p: Int) -> Bool {
                var d = 2
                while d * d <= p {
                    if p % d == 0 { return false }
                    d += 1
                }
                return true
            }
            var p = max(n, 2)
            while !isPrime(p) { p += 1 }
            return p
        }
    }
}
