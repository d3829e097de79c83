import Torch

/// Runs an ``InferenceGraph`` of a body's operators (Conv, Clip, Relu, Add, MaxPool, and the QDQ form's
/// QuantizeLinear and DequantizeLinear) in float32 with libtorch, and lets a caller see every node's output: the INT8
/// calibration watches the activation ranges this way, and the tests check that a graph computes what the modules,
/// or the INT8 network, compute.
public struct GraphRunner {
    public let graph: InferenceGraph
    let constants: [String: Tensor]

    public init(_ graph: InferenceGraph) throws {
        self.graph = graph
        // 4-d weights in the channels-last layout the convolutions run fastest in here.
        constants = try graph.constantsByName.mapValues { $0.rank == 4 ? try $0.contiguous(.channelsLast) : $0 }
        var last: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for name in node.inputs { last[name] = i } }
        var lastRead = [[String]](repeating: [], count: graph.nodes.count)
        for (name, i) in last where constants[name] == nil { lastRead[i].append(name) }
        self.lastRead = lastRead
    }

    /// The values each node reads for the last time.
    let lastRead: [[String]]

    /// The value named `output`, computed from `inputs` (name → tensor); `watch` sees each node's output as it is
    /// made.
    public func run(
        _ inputs: [String: Tensor], output: String, watch: (InferenceGraph.Node, Tensor) throws -> Void = { _, _ in }
    ) throws -> Tensor {
        var values = inputs
        for (i, node) in graph.nodes.enumerated() {
            let y = try Self.evaluate(node) { name in
                guard let v = values[name] ?? constants[name] else {
                    throw TorchError("graph node \(node.name) reads \(name), which no earlier node made")
                }
                return v
            }
            try watch(node, y)
            values[node.output] = y
            if node.output == output { return y }
            // Only the live values are held: a body's activations for a big batch take gigabytes.
            for name in lastRead[i] where name != output { values[name] = nil }
        }
        guard let y = values[output] else { throw TorchError("the graph makes no value named \(output)") }
        return y
    }

    /// One node's output in float32, its inputs (values or constants) read through `value`.
    static func evaluate(_ node: InferenceGraph.Node, _ value: (String) throws -> Tensor) throws -> Tensor {
        let x = try value(node.inputs[0])
        switch node.op {
        case "Conv":
            let conv = try ConvNode(node)
            return try Functional.conv2d(
                conv.padBefore(x), weight: value(node.inputs[1]),
                bias: node.inputs.count > 2 ? value(node.inputs[2]) : nil,
                stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups)
        case "Clip":
            return try x.clamp(value(node.inputs[1]).item(), value(node.inputs[2]).item())
        case "Relu": return try x.relu()
        case "Add": return try x + value(node.inputs[1])
        case "Mul": return try x * value(node.inputs[1])
        case "MaxPool":
            let pool = try PoolNode(node)
            return try Functional.maxPool2d(x, kernel: pool.kernel, stride: pool.stride, padding: pool.padding)
        case "QuantizeLinear":
            let (scale, zero) = (try value(node.inputs[1]).item(), try value(node.inputs[2]).item())
            return try ((x / scale).rounded() + zero).clamp(0, 255)
        case "DequantizeLinear":
            // Per tensor (scalar scale), or per slice along `axis` (a scale per output channel of a weight).
            let (scale, zero) = (try value(node.inputs[1]).to(.float32), try value(node.inputs[2]).to(.float32))
            guard scale.rank == 1 else { return try (x.to(.float32) - zero) * scale }
            let axis = (try? node.int("axis")) ?? 1  // ONNX's default axis is 1
            var shape = [Int](repeating: 1, count: x.rank)
            shape[axis] = scale.count
            return try (x.to(.float32) - zero.reshaped(shape)) * scale.reshaped(shape)
        default:
            throw TorchError("the graph runner has no \(node.op) (node \(node.name))")
        }
    }
}

/// A Conv node's attributes, with ONNX's pads (top, left, bottom, right) split into a symmetric part that the
/// convolution takes and an extra zero pad before it where they differ (TensorFlow's SAME padding).
public struct ConvNode {
    public var stride: (Int, Int), dilation: (Int, Int), groups: Int
    /// What the convolution pads itself, on both sides.
    public var padding: (Int, Int)
    /// Padding done before the convolution when the sides differ: [left, right, top, bottom] (``Functional/pad``),
    /// or nil.
    public var extraPads: [Int]?

    public init(_ node: InferenceGraph.Node) throws {
        let pads = try node.ints("pads"), strides = try node.ints("strides"), dilations = try node.ints("dilations")
        stride = (strides[0], strides[1])
        dilation = (dilations[0], dilations[1])
        groups = try node.int("group")
        if pads[0] == pads[2], pads[1] == pads[3] {
            padding = (pads[0], pads[1])
        } else {
            padding = (0, 0)
            extraPads = [pads[1], pads[3], pads[0], pads[2]]
        }
    }

    func padBefore(_ x: Tensor) throws -> Tensor {
        guard let extraPads else { return x }
        return try Functional.pad(x, extraPads)
    }
}

/// A MaxPool node's attributes (symmetric pads only, as ResNet's stem has).
public struct PoolNode {
    public var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)

    public init(_ node: InferenceGraph.Node) throws {
        let k = try node.ints("kernel_shape"), s = try node.ints("strides"), p = try node.ints("pads")
        guard p[0] == p[2], p[1] == p[3] else { throw TorchError("MaxPool \(node.name): asymmetric pads \(p)") }
        (kernel, stride, padding) = ((k[0], k[1]), (s[0], s[1]), (p[0], p[1]))
    }
}

extension InferenceGraph.Node {
    /// The list attribute `name`; throws naming the node when it has none.
    func ints(_ name: String) throws -> [Int] {
        guard case .ints(let v)? = attributes.first(where: { $0.name == name })?.value else {
            throw TorchError("graph node \(self.name) has no \(name)")
        }
        return v
    }

    /// The integer attribute `name`; throws naming the node when it has none.
    func int(_ name: String) throws -> Int {
        guard case .int(let v)? = attributes.first(where: { $0.name == name })?.value else {
            throw TorchError("graph node \(self.name) has no \(name)")
        }
        return v
    }
}
