import Torch

/// A body's graph run in INT8: post-training static quantization.
///
/// Built from the float graph (``InferenceGraph``, BatchNorms already folded) and the activation ranges a calibration
/// watched (``ActivationRanges``). Weights are int8 with one scale per output channel (symmetric, `max|w| / 127`);
/// every activation is uint8 with one scale and zero point from its range. A convolution followed by its ReLU or
/// ReLU6 runs as one fused operator whose output range starts at 0, so the ReLU costs nothing and ReLU6's cap is the
/// top of the range when the calibration saw 6; a residual Add (with its ReLU, in ResNet) is a quantized add. The
/// output is dequantized to float32, so the pooling and the head after it run as before.
public final class QuantizedNetwork: @unchecked Sendable {
    /// One operator of the INT8 network; each reads named values and makes one.
    enum Step {
        case conv(QuantizedConv2d, ConvNode, input: String, output: String, relu: Bool, QuantizationParameters)
        case add(String, String, output: String, relu: Bool, QuantizationParameters)
        case maxPool(PoolNode, input: String, output: String)

        var inputs: [String] {
            switch self {
            case .conv(_, _, let x, _, _, _), .maxPool(_, let x, _): [x]
            case .add(let a, let b, _, _, _): [a, b]
            }
        }
    }

    let input: String, output: String
    let inputParameters: QuantizationParameters
    let steps: [Step]
    /// The values each step reads for the last time: freed after it, so a batch holds only the live activations.
    let released: [[String]]

    /// The network from graph input `input` (the normalised image) to value `output` (the body's feature map).
    /// Throws naming the operator when the graph holds one this network cannot run in INT8, or a value the
    /// calibration did not see.
    public init(_ graph: InferenceGraph, input: String, output: String, ranges: ActivationRanges) throws {
        (self.input, self.output) = (input, output)
        inputParameters = try ranges.parameters(input)
        steps = try Self.steps(graph, output: output, ranges: ranges)
        var last: [String: Int] = [:]
        for (i, step) in steps.enumerated() { for name in step.inputs { last[name] = i } }
        var released = [[String]](repeating: [], count: steps.count)
        for (name, i) in last where name != output { released[i].append(name) }
        self.released = released
    }

    /// The body's float32 output for a normalised float32 batch.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        var values = [input: try QuantizedTensor(x, scale: inputParameters.scale, zeroPoint: inputParameters.zeroPoint)]
        func value(_ name: String) throws -> QuantizedTensor {
            guard let v = values[name] else { throw TorchError("INT8 network: no value \(name)") }
            return v
        }
        for (i, step) in steps.enumerated() {
            defer { for name in released[i] { values[name] = nil } }
            switch step {
            case .conv(let conv, let node, let x, let out, let relu, let q):
                var v = try value(x)
                if let pads = node.extraPads { v = try v.padded(pads) }
                values[out] = try conv(v, scale: q.scale, zeroPoint: q.zeroPoint, relu: relu)
            case .add(let a, let b, let out, let relu, let q):
                values[out] = try value(a).adding(value(b), scale: q.scale, zeroPoint: q.zeroPoint, relu: relu)
            case .maxPool(let pool, let x, let out):
                values[out] = try value(x).maxPooled(kernel: pool.kernel, stride: pool.stride, padding: pool.padding)
            }
        }
        return try value(output).dequantized()
    }

    /// One INT8 operator as planned from the float graph: a node, the ReLU or ReLU6 fused after it, the value it
    /// makes and that value's parameters.
    struct Planned {
        var node: InferenceGraph.Node
        var activation: InferenceGraph.Node?
        var output: String
        var parameters: QuantizationParameters
    }

    /// The graph's nodes up to `output` as INT8 operators, each ReLU or ReLU6 that alone reads a Conv's or Add's
    /// output fused into it (its range then starts at 0, and ReLU6's cap bounds its top).
    static func plan(_ graph: InferenceGraph, output: String, ranges: ActivationRanges) throws -> [Planned] {
        let nodes = graph.nodes
        let constants = graph.constantsByName
        var readers: [String: Int] = [:]
        for node in nodes { for name in node.inputs { readers[name, default: 0] += 1 } }
        /// The ReLU or ReLU6 right after node i that alone reads its output, and the cap it applies.
        func activation(after i: Int) throws -> (node: InferenceGraph.Node, cap: Float?)? {
            guard i + 1 < nodes.count, readers[nodes[i].output] == 1, nodes[i + 1].inputs[0] == nodes[i].output
            else { return nil }
            let next = nodes[i + 1]
            if next.op == "Relu" { return (next, nil) }
            guard next.op == "Clip", let low = try constants[next.inputs[1]]?.item(), low == 0,
                let high = try constants[next.inputs[2]]?.item()
            else { return nil }
            return (next, Float(high))
        }
        var planned: [Planned] = [], i = 0
        while i < nodes.count {
            let node = nodes[i]
            guard ["Conv", "Add", "MaxPool"].contains(node.op) else {
                throw TorchError("INT8: the \(node.op) operator (node \(node.name)) has no quantized form here")
            }
            let fused = node.op == "MaxPool" ? nil : try activation(after: i)
            let out = fused?.node.output ?? node.output
            // Max pooling keeps its input's grid.
            let q = try ranges.parameters(
                node.op == "MaxPool" ? node.inputs[0] : out, cap: fused?.cap, floor: fused == nil ? nil : 0)
            planned.append(Planned(node: node, activation: fused?.node, output: out, parameters: q))
            i += fused == nil ? 1 : 2
            if out == output { return planned }
        }
        throw TorchError("INT8: the graph makes no value named \(output)")
    }

    /// The planned operators as executable steps: each convolution's weights quantized and prepacked.
    static func steps(_ graph: InferenceGraph, output: String, ranges: ActivationRanges) throws -> [Step] {
        let constants = graph.constantsByName
        return try plan(graph, output: output, ranges: ranges).map { p in
            let (node, relu) = (p.node, p.activation != nil)
            switch node.op {
            case "Conv":
                let spec = try ConvNode(node)
                guard let weight = constants[node.inputs[1]] else { throw TorchError("Conv \(node.name): no weight") }
                let conv = try QuantizedConv2d(
                    weight: weight, bias: node.inputs.count > 2 ? constants[node.inputs[2]] : nil, stride: spec.stride,
                    padding: spec.padding, dilation: spec.dilation, groups: spec.groups,
                    inputMeans: try ranges.meanTensor(node.inputs[0]))
                return .conv(conv, spec, input: node.inputs[0], output: p.output, relu: relu, p.parameters)
            case "Add": return .add(node.inputs[0], node.inputs[1], output: p.output, relu: relu, p.parameters)
            default: return .maxPool(try PoolNode(node), input: node.inputs[0], output: p.output)
            }
        }
    }
}

/// A uint8 activation's scale and zero point: `x ≈ (q − zeroPoint) · scale`, from the range it must cover.
public struct QuantizationParameters: Sendable, Equatable {
    public var scale: Double
    public var zeroPoint: Int

    /// Covers `low…high` widened to include 0 (so zero, the padding, is exact).
    public init(low: Float, high: Float) {
        let (lo, hi) = (Double(min(low, 0)), Double(max(high, 0)))
        scale = max(hi - lo, 1e-8) / 255
        zeroPoint = Int(min(max((-lo / scale).rounded(), 0), 255))
    }
}

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

    /// Watches `graph` run on each batch of `batches` (normalised images, fed as `input`) up to `output`.
    public static func observe(
        _ graph: InferenceGraph, input: String, output: String, batches: [Tensor]
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
