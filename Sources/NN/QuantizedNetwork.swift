import Foundation
import Torch

/// A body's graph run in INT8: post-training static quantization.
///
/// Built from the float graph (``InferenceGraph``, BatchNorms already folded) and the activation ranges a calibration
/// watched (``ActivationRanges``). Weights are int8 with one scale per output channel (symmetric, `max|w| / 127`);
/// every activation is uint8 with one scale and zero point from its range. A convolution followed by its ReLU or
/// ReLU6 runs as one fused operator whose output range starts at 0, so the ReLU costs nothing and ReLU6's cap is the
/// top of the range when the calibration saw 6; a residual Add (with its ReLU, in ResNet) is a quantized add. The
/// output is dequantized to float32, so the pooling and the head after it run as before.
///
/// The first convolution (when it alone reads the image), and each grouped (depthwise) one that alone reads the output
/// before it, compute in float32 on the unquantized image (``Planned/computesInFloat``): rounding the image and the
/// stem's output to 8 bits cost most of the INT8 error (the ELPV demo's Lite0: the logits' RMS difference from float32
/// 0.26, 0.11 without those two roundings; docs/measurements.md), for about 5 % of the time.
///
/// Where this build has oneDNN and oneDNN has INT8 kernels for this CPU, the same quantization runs through oneDNN
/// directly (``OneDNNNetwork/init(_:input:output:ranges:)``, ``runsThroughOneDNN``): padding, residual sums and
/// activations fused into the convolutions instead of passes of their own. On an AMD Zen 4 with 2 threads (the ELPV
/// demo's Lite0 at 256 px, `quadrat bench inference --rounds 3`, batches of 8 and 32) it ran 337–341 img/s against
/// 219–230 through libtorch (its float32 stem through ATen).
public final class QuantizedNetwork: @unchecked Sendable {
    /// One operator of the INT8 network; each reads named values and makes one.
    enum Step {
        case conv(QuantizedConv2d, ConvNode, input: String, output: String, relu: Bool, QuantizationParameters)
        /// A float32 convolution (its weights, bias and activation in ``FloatConv``), its output quantized when
        /// `quantizedTo` is given.
        case floatConv(
            FloatConv, ConvNode, input: String, output: String, quantizedTo: QuantizationParameters?)
        case add(String, String, output: String, relu: Bool, QuantizationParameters)
        case maxPool(PoolNode, input: String, output: String)

        var inputs: [String] {
            switch self {
            case .conv(_, _, let x, _, _, _), .floatConv(_, _, let x, _, _), .maxPool(_, let x, _): [x]
            case .add(let a, let b, _, _, _): [a, b]
            }
        }
    }

    /// A float32 convolution's weights, bias and the clamp of its activation (nil: none; high nil: ReLU).
    struct FloatConv {
        var weight: Tensor, bias: Tensor?
        var clamp: (low: Float, high: Float?)?
    }

    let input: String, output: String
    let inputParameters: QuantizationParameters
    let steps: [Step]
    /// Whether the first step reads the image unquantized (``Planned/computesInFloat``).
    let readsTheImageInFloat: Bool
    /// The values each step reads for the last time: freed after it, so a batch holds only the live activations.
    let released: [[String]]
    /// The same network through oneDNN, or nil where this build or this CPU has none.
    private let oneDNN: OneDNNNetwork?
    /// Whether batches run through oneDNN directly when it is there (true unless set; a measurement of libtorch's
    /// quantized operators turns it off). A batch oneDNN fails on turns it off for good, said on standard error:
    /// libtorch's path serves and reports its own errors.
    public var runsThroughOneDNN: Bool {
        get { oneDNN != nil && oneDNNServes.withLock { $0 } }
        set { oneDNNServes.withLock { $0 = newValue } }
    }
    private let oneDNNServes = Locked(true)

    /// The network from graph input `input` (the normalised image) to value `output` (the body's feature map).
    /// Throws naming the operator when the graph holds one this network cannot run in INT8, or a value the
    /// calibration did not see.
    public init(_ graph: InferenceGraph, input: String, output: String, ranges: ActivationRanges) throws {
        (self.input, self.output) = (input, output)
        inputParameters = try ranges.parameters(input)
        let plan = try Self.plan(graph, output: output, ranges: ranges)
        steps = try Self.steps(plan, constants: graph.constantsByName, ranges: ranges)
        readsTheImageInFloat = Self.readsTheImageInFloat(plan)
        var last: [String: Int] = [:]
        for (i, step) in steps.enumerated() { for name in step.inputs { last[name] = i } }
        var released = [[String]](repeating: [], count: steps.count)
        for (name, i) in last where name != output { released[i].append(name) }
        self.released = released
        // Without oneDNN in this build or INT8 kernels for this CPU, libtorch's operators serve alone.
        oneDNN =
            OneDNNNetwork.isAvailable ? try? OneDNNNetwork(graph, input: input, output: output, ranges: ranges) : nil
    }

    /// The body's float32 output for a normalised float32 batch.
    public func callAsFunction(_ x: Tensor) throws -> Tensor {
        if runsThroughOneDNN, let oneDNN, x.dtype == .float32 {
            do {
                return try oneDNN(x)
            } catch {
                runsThroughOneDNN = false
                FileHandle.standardError.write(
                    Data(
                        "INT8 through oneDNN failed (\(error)): libtorch's quantized operators serve from now on\n".utf8
                    ))
            }
        }
        // libtorch's operators run fastest on channels-last input, like their packed weights.
        return try throughLibtorch(x.contiguous(.channelsLast))
    }

    /// ``callAsFunction(_:)`` through libtorch's quantized operators.
    private func throughLibtorch(_ x: Tensor) throws -> Tensor {
        // The values kept in float32 (the input, where the first convolution computes in float32) and in uint8.
        var floats: [String: Tensor] = [:], values: [String: QuantizedTensor] = [:]
        if readsTheImageInFloat {
            floats[input] = try x.to(.float32)
        } else {
            values[input] = try QuantizedTensor(x, scale: inputParameters.scale, zeroPoint: inputParameters.zeroPoint)
        }
        func value(_ name: String) throws -> QuantizedTensor {
            guard let v = values[name] else { throw TorchError("INT8 network: no uint8 value \(name)") }
            return v
        }
        for (i, step) in steps.enumerated() {
            defer { for name in released[i] { (values[name], floats[name]) = (nil, nil) } }
            switch step {
            case .floatConv(let conv, let node, let x, let out, let q):
                guard let v = floats[x] else { throw TorchError("INT8 network: no float32 value \(x)") }
                // In float32 as oneDNN's path and the QDQ export compute it, even inside a caller's autocast.
                var y = try Torch.withoutAutocast {
                    try Functional.conv2d(
                        node.padBefore(v), weight: conv.weight, bias: conv.bias, stride: node.stride,
                        padding: node.padding, dilation: node.dilation, groups: node.groups)
                }
                if let (low, high) = conv.clamp {
                    y = try high.map { try y.clamp(Double(low), Double($0)) } ?? y.relu()
                }
                if let q {
                    values[out] = try QuantizedTensor(y, scale: q.scale, zeroPoint: q.zeroPoint)
                } else {
                    floats[out] = y
                }
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
        /// Computes in float32: the first Conv when it alone reads the image, and each grouped (depthwise) Conv that
        /// alone reads the output of one that does.
        var computesInFloat = false
        /// Its output stays float32 (it computes in float32, and its only reader does too); else it is quantized.
        var keepsFloat = false

        /// Its activation as a clamp: ReLU's (0, nil) or a Clip's bounds; nil without one.
        func clamp(_ constants: [String: Tensor]) throws -> (low: Float, high: Float?)? {
            guard let activation else { return nil }
            guard activation.op == "Clip" else { return (0, nil) }
            return (
                Float(try constants[activation.inputs[1]]?.item() ?? 0),
                Float(try constants[activation.inputs[2]]?.item() ?? 6)
            )
        }
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
        // Each value's parameters as made: max pooling keeps its input's grid, whatever that was.
        var made: [String: QuantizationParameters] = [:]
        while i < nodes.count {
            let node = nodes[i]
            guard ["Conv", "Add", "MaxPool"].contains(node.op) else {
                throw TorchError("INT8: the \(node.op) operator (node \(node.name)) has no quantized form here")
            }
            let fused = node.op == "MaxPool" ? nil : try activation(after: i)
            let out = fused?.node.output ?? node.output
            let q =
                node.op == "MaxPool"
                ? try made[node.inputs[0]] ?? ranges.parameters(node.inputs[0])
                : try ranges.parameters(out, cap: fused?.cap, floor: fused == nil ? nil : 0)
            made[out] = q
            planned.append(Planned(node: node, activation: fused?.node, output: out, parameters: q))
            i += fused == nil ? 1 : 2
            if out == output { return try floatPrefix(planned, readers: readers) }
        }
        throw TorchError("INT8: the graph makes no value named \(output)")
    }

    /// `planned` with its float32 prefix marked: the first Conv when it alone reads the image (another reader would
    /// need it quantized), then each grouped (depthwise) Conv that alone reads the previous one's output.
    static func floatPrefix(_ planned: [Planned], readers: [String: Int]) throws -> [Planned] {
        var planned = planned
        guard let first = planned.first?.node, first.op == "Conv", readers[first.inputs[0]] == 1 else { return planned }
        planned[0].computesInFloat = true
        var k = 0
        while k + 1 < planned.count, planned[k].output != planned.last?.output, readers[planned[k].output] == 1 {
            let next = planned[k + 1].node
            guard next.op == "Conv", next.inputs[0] == planned[k].output, try ConvNode(next).groups > 1 else { break }
            planned[k].keepsFloat = true
            planned[k + 1].computesInFloat = true
            k += 1
        }
        return planned
    }

    /// Whether the network planned as `plan` reads the image unquantized: its first step computes in float32.
    static func readsTheImageInFloat(_ plan: [Planned]) -> Bool { plan.first?.computesInFloat == true }

    /// The planned operators as executable steps: each convolution's weights quantized and prepacked.
    static func steps(_ plan: [Planned], constants: [String: Tensor], ranges: ActivationRanges) throws -> [Step] {
        try plan.map { p in
            let (node, relu) = (p.node, p.activation != nil)
            switch node.op {
            case "Conv" where p.computesInFloat:
                guard let weight = constants[node.inputs[1]] else { throw TorchError("Conv \(node.name): no weight") }
                let conv = FloatConv(
                    weight: weight, bias: node.inputs.count > 2 ? constants[node.inputs[2]] : nil,
                    clamp: try p.clamp(constants))
                return .floatConv(
                    conv, try ConvNode(node), input: node.inputs[0], output: p.output,
                    quantizedTo: p.keepsFloat ? nil : p.parameters)
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
