import Torch

extension OneDNNNetwork {
    /// The body's graph (``InferenceGraph``, BatchNorms folded) from `input` to `output` as one oneDNN network: each
    /// Conv with the ReLU or ReLU6 after it, and with the residual Add after it (and that Add's ReLU) when the Add's
    /// other input is read by nothing later and is neither the Conv's input nor the graph's; MaxPool as it is. Throws
    /// naming the node when the graph holds an operator it cannot run, so that the caller keeps ATen's path.
    public convenience init(_ graph: InferenceGraph, input: String, output: String, bfloat16: Bool) throws {
        try self.init(bfloat16: bfloat16)
        try addLayers(graph, input: input, output: output) { conv in
            try convolution(
                conv.input, weight: conv.weight, bias: conv.bias, stride: conv.spec.stride, padBefore: conv.padBefore,
                padAfter: conv.padAfter, groups: conv.spec.groups, residual: conv.residual,
                activation: conv.fused.activation)
        }
    }

    /// The same network in INT8, quantized as ``QuantizedNetwork`` quantizes the graph (the same calibration
    /// `ranges`, per-channel weights with the bias corrected for their rounding, each value's scale and zero point
    /// from its range), but for the residual sums: fused into their convolution, they add the convolution's exact
    /// output rather than its rounding, and the sum alone is rounded. Its float32 prefix computes in float32 as the
    /// plan says (``QuantizedNetwork/Planned/computesInFloat``), on the input unquantized.
    public convenience init(_ graph: InferenceGraph, input: String, output: String, ranges: ActivationRanges) throws {
        // Each value as the INT8 network plans it: its scale and zero point (a ReLU's floor, ReLU6's cap), and
        // whether it is made in float32.
        var planned: [String: QuantizedNetwork.Planned] = [:]
        let plan = try QuantizedNetwork.plan(graph, output: output, ranges: ranges)
        for p in plan { planned[p.output] = p }
        let q = try ranges.parameters(input)
        try self.init(
            int8InputScale: QuantizedNetwork.readsTheImageInFloat(plan) ? 0 : q.scale, zeroPoint: q.zeroPoint)
        try addLayers(graph, input: input, output: output) { conv in
            guard let p = planned[conv.fused.output] else {
                throw TorchError("oneDNN INT8: \(conv.fused.output) is made where the INT8 plan makes no value")
            }
            if p.computesInFloat {
                return try floatConvolution(
                    conv.input, weight: conv.weight, bias: conv.bias, stride: conv.spec.stride,
                    padBefore: conv.padBefore, padAfter: conv.padAfter, groups: conv.spec.groups,
                    activation: conv.fused.activation,
                    quantizedTo: p.keepsFloat ? nil : (p.parameters.scale, p.parameters.zeroPoint))
            }
            let quantized = try QuantizedConv2d.quantize(
                weight: conv.weight, bias: conv.bias, groups: conv.spec.groups,
                inputMeans: try ranges.meanTensor(conv.node.inputs[0]))
            return try convolution(
                conv.input, integers: quantized.integers, weightScales: quantized.scales, bias: quantized.bias,
                stride: conv.spec.stride, padBefore: conv.padBefore, padAfter: conv.padAfter, groups: conv.spec.groups,
                residual: conv.residual, activation: conv.fused.activation, scale: p.parameters.scale,
                zeroPoint: p.parameters.zeroPoint)
        }
    }

    /// A Conv node as the builders add it: its values, weights, paddings and what fuses into it.
    private struct PlannedConv {
        var node: InferenceGraph.Node, spec: ConvNode
        var input: Int, residual: Int?
        var weight: Tensor, bias: Tensor?
        var padBefore: (Int, Int), padAfter: (Int, Int)
        var fused: GraphFusion.Fused
    }

    /// Adds the graph's layers from `input` to `output`, each Conv through `convolution`.
    private func addLayers(
        _ graph: InferenceGraph, input: String, output: String, convolution: (PlannedConv) throws -> Int
    ) throws {
        let plan = GraphFusion(graph, input: input)
        var values = [input: 0], i = 0
        func value(_ name: String, _ node: InferenceGraph.Node) throws -> Int {
            guard let v = values[name] else { throw TorchError("oneDNN: node \(node.name) reads \(name), not made") }
            return v
        }
        while i < graph.nodes.count, values[output] == nil {
            let node = graph.nodes[i]
            switch node.op {
            case "Conv":
                let spec = try ConvNode(node)
                guard spec.dilation == (1, 1), let weight = plan.constants[node.inputs[1]] else {
                    throw TorchError("oneDNN: Conv \(node.name) is dilated or has no weight")
                }
                let pads = try node.ints("pads")  // top, left, bottom, right
                let fused = try plan.fusedAfterConv(at: i)
                values[fused.output] = try convolution(
                    PlannedConv(
                        node: node, spec: spec, input: try value(node.inputs[0], node),
                        residual: try fused.residual.map { try value($0, graph.nodes[i + 1]) }, weight: weight,
                        bias: node.inputs.count > 2 ? plan.constants[node.inputs[2]] : nil,
                        padBefore: (pads[0], pads[1]), padAfter: (pads[2], pads[3]), fused: fused))
                i = fused.next
            case "MaxPool":
                let pool = try PoolNode(node)
                values[node.output] = try maxPool(
                    try value(node.inputs[0], node), kernel: pool.kernel, stride: pool.stride,
                    padBefore: pool.padding, padAfter: pool.padding)
                i += 1
            default:
                throw TorchError("oneDNN: the \(node.op) operator (node \(node.name)) is not run here")
            }
        }
        guard values[output] == valueCount - 1 else { throw TorchError("oneDNN: the graph makes no value \(output)") }
    }
}

/// Which nodes after a Conv fold into it: who reads each value, and where.
private struct GraphFusion {
    let nodes: [InferenceGraph.Node]
    let constants: [String: Tensor]
    let input: String
    var readers: [String: Int] = [:], lastReader: [String: Int] = [:]

    init(_ graph: InferenceGraph, input: String) {
        (nodes, constants, self.input) = (graph.nodes, graph.constantsByName, input)
        for (i, node) in nodes.enumerated() {
            for name in node.inputs {
                lastReader[name] = i
                readers[name, default: 0] += 1
            }
        }
    }

    /// What fuses into a Conv: the residual summed, the activation after, the value made last and the next node.
    struct Fused {
        var residual: String?, activation: OneDNNNetwork.Activation, output: String, next: Int
    }

    /// What the Conv at `i` takes in: the residual Add right after it (the Add's other input, which its buffer then
    /// holds the sum in: so nothing may read it later, and it may be neither the Conv's input nor the graph's), then
    /// a ReLU or ReLU6; the value made last and the next node to plan.
    func fusedAfterConv(at i: Int) throws -> Fused {
        let conv = nodes[i]
        var (output, next, residual) = (conv.output, i + 1, nil as String?)
        if next < nodes.count, nodes[next].op == "Add", readers[conv.output] == 1,
            nodes[next].inputs.contains(conv.output),
            let other = nodes[next].inputs.first(where: { $0 != conv.output }),
            lastReader[other] == next, other != conv.inputs[0], other != input
        {
            (residual, output, next) = (other, nodes[next].output, next + 1)
        }
        guard let activation = try activation(at: next) else {
            return Fused(residual: residual, activation: .none, output: output, next: next)
        }
        return Fused(residual: residual, activation: activation, output: nodes[next].output, next: next + 1)
    }

    /// The activation of node `i` when it reads node `i − 1`'s output, which nothing else reads: ReLU, or a Clip to
    /// 0…6.
    func activation(at i: Int) throws -> OneDNNNetwork.Activation? {
        guard i < nodes.count, i > 0, readers[nodes[i - 1].output] == 1, nodes[i].inputs.first == nodes[i - 1].output
        else { return nil }
        if nodes[i].op == "Relu" { return .relu }
        guard nodes[i].op == "Clip", nodes[i].inputs.count == 3, try constants[nodes[i].inputs[1]]?.item() == 0,
            try constants[nodes[i].inputs[2]]?.item() == 6
        else { return nil }
        return .relu6
    }
}
