import Torch

/// An eval-mode network written out as a graph of ONNX operators, for export.
///
/// Layers add themselves with ``Module/export(_:into:)``: each appends nodes, names its output and returns that
/// name. Weights go in as constants (``constant(_:name:)``). BatchNorm never appears as an operator: it is folded
/// into the convolution before it, or becomes a per-channel scale and shift. The graph knows nothing of protobuf;
/// the ONNX target serialises it.
public struct InferenceGraph {
    /// An operator attribute (the kinds Quadrat's layers need).
    public enum Attribute: Sendable, Equatable {
        case int(Int)
        case ints([Int])
        case float(Float)
    }

    /// One operator: `op` (an ONNX operator name) from `inputs` to `output`.
    public struct Node {
        public var op: String
        public var name: String
        public var inputs: [String]
        public var output: String
        public var attributes: [(name: String, value: Attribute)]
        /// Outputs after the first, for operators with several (TopK's indices).
        public var moreOutputs: [String] = []
    }

    /// The operators in execution order.
    public private(set) var nodes: [Node] = []
    /// The constants (weights, shifts, clip bounds, quantization parameters), by name, contiguous: float32 unless
    /// made int64, int32 or uint8.
    public private(set) var constants: [(name: String, tensor: Tensor)] = []
    /// The constants to store as int8 (INT8 weights): their tensors hold the integers as float32, since ``DType``
    /// has no int8.
    public private(set) var int8Constants: Set<String> = []
    private var used: [String: Int] = [:]

    public init() {}

    /// A name not used before, built from `stem` (`Conv`, `Conv_1`, `Conv_2`…).
    private mutating func unique(_ stem: String) -> String {
        let n = used[stem, default: 0]
        used[stem] = n + 1
        return n == 0 ? stem : "\(stem)_\(n)"
    }

    /// Adds a constant (copied as contiguous float32 unless it is int64, int32 or uint8) and returns its name.
    public mutating func constant(_ tensor: Tensor, name: String) throws -> String {
        let name = unique(name)
        let stored =
            [.int64, .int32, .uint8].contains(tensor.dtype)
            ? try tensor.contiguous() : try tensor.detached().to(.float32).contiguous()
        constants.append((name, stored))
        return name
    }

    /// Adds a constant stored as int8: `integers` holds whole numbers in −128…127 (any float type).
    public mutating func int8Constant(_ integers: Tensor, name: String) throws -> String {
        let name = try constant(integers, name: name)
        int8Constants.insert(name)
        return name
    }

    /// The constants by name.
    public var constantsByName: [String: Tensor] {
        Dictionary(constants.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    }

    /// Adds a node and returns the name of its output.
    @discardableResult
    public mutating func add(
        _ op: String, _ inputs: [String], _ attributes: [(name: String, value: Attribute)] = [], output: String? = nil
    ) -> String {
        let name = unique(op)
        let out = output ?? name
        nodes.append(Node(op: op, name: name, inputs: inputs, output: out, attributes: attributes))
        return out
    }

    /// Adds a node with several outputs and returns their names (the first is `stem`'s unique name).
    @discardableResult
    public mutating func add(
        _ op: String, _ inputs: [String], _ attributes: [(name: String, value: Attribute)] = [], outputs count: Int
    ) -> [String] {
        let name = unique(op)
        let outputs = [name] + (1..<max(1, count)).map { "\(name).\($0)" }
        var node = Node(op: op, name: name, inputs: inputs, output: name, attributes: attributes)
        node.moreOutputs = Array(outputs.dropFirst())
        nodes.append(node)
        return outputs
    }

    /// A 2-D convolution. `pads` is ONNX's order: top, left, bottom, right.
    public mutating func conv(
        _ input: String, weight: Tensor, bias: Tensor?, stride: (Int, Int), pads: [Int], dilation: (Int, Int),
        groups: Int
    ) throws -> String {
        let w = try constant(weight, name: "conv.weight")
        let b = try bias.map { try constant($0, name: "conv.bias") }
        let shape = weight.shape
        return add(
            "Conv", [input, w] + (b.map { [$0] } ?? []),
            [
                ("kernel_shape", .ints([shape[2], shape[3]])), ("strides", .ints([stride.0, stride.1])),
                ("pads", .ints(pads)), ("dilations", .ints([dilation.0, dilation.1])), ("group", .int(groups)),
            ])
    }

    /// `min(max(x, low), high)` (ReLU6 is `clip(x, 0, 6)`); the bounds are shared scalar constants.
    public mutating func clip(_ input: String, low: Float, high: Float) throws -> String {
        let lowName = "clip.\(low)", highName = "clip.\(high)"
        if !constants.contains(where: { $0.name == lowName }) {
            _ = try constant(Tensor([low], shape: []), name: lowName)
        }
        if !constants.contains(where: { $0.name == highName }) {
            _ = try constant(Tensor([high], shape: []), name: highName)
        }
        return add("Clip", [input, lowName, highName])
    }

    /// `x · scale + shift` per channel (dimension 1): an eval-mode BatchNorm, or input normalisation.
    /// `scale` and `shift` are shaped to broadcast: [C] for N×C input, [C, 1, 1] for N×C×H×W.
    public mutating func affine(_ input: String, scale: Tensor, shift: Tensor) throws -> String {
        let s = try constant(scale, name: "scale"), t = try constant(shift, name: "shift")
        return add("Add", [add("Mul", [input, s]), t])
    }
}
