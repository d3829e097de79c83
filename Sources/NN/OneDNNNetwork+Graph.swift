import Torch

extension OneDNNNetwork {
    /// The body's graph (``InferenceGraph``, BatchNorms folded) from `input` to `output` as one oneDNN network: each
    /// Conv with the ReLU or ReLU6 after it, and with the residual Add after it (and that Add's ReLU) when the Add's
    /// other input is read by nothing later; MaxPool as it is. Throws naming the node when the graph holds an
    /// operator it cannot run, so that the caller keeps ATen's path.
    public convenience init(_ graph: InferenceGraph, input: String, output: String, bfloat16: Bool) throws {
        try self.init(bfloat16: bfloat16)
        let nodes = graph.nodes, constants = graph.constantsByName
        var lastReader: [String: Int] = [:], readers: [String: Int] = [:]
        for (i, node) in nodes.enumerated() {
            for name in node.inputs {
                lastReader[name] = i
                readers[name, default: 0] += 1
            }
        }
        /// The activation of node `i` when it reads node `i − 1`'s output, which nothing else reads.
        func activation(at i: Int) throws -> Activation? {
            guard i < nodes.count, i > 0, readers[nodes[i - 1].output] == 1,
                nodes[i].inputs.first == nodes[i - 1].output
            else { return nil }
            if nodes[i].op == "Relu" { return .relu }
            guard nodes[i].op == "Clip", try constants[nodes[i].inputs[1]]?.item() == 0,
                try constants[nodes[i].inputs[2]]?.item() == 6
            else { return nil }
            return .relu6
        }
        var values = [input: 0], i = 0
        func value(_ name: String, _ node: InferenceGraph.Node) throws -> Int {
            guard let v = values[name] else { throw TorchError("oneDNN: node \(node.name) reads \(name), not made") }
            return v
        }
        while i < nodes.count, values[output] == nil {
            let node = nodes[i]
            switch node.op {
            case "Conv":
                let spec = try ConvNode(node)
                guard spec.dilation == (1, 1), let weight = constants[node.inputs[1]] else {
                    throw TorchError("oneDNN: Conv \(node.name) is dilated or has no weight")
                }
                let pads = try node.ints("pads")  // top, left, bottom, right
                var made = node.output, residual: Int?
                var next = i + 1
                // A residual Add that alone reads this output, whose other input nothing after it reads.
                if next < nodes.count, nodes[next].op == "Add", readers[node.output] == 1,
                    nodes[next].inputs.contains(node.output),
                    let other = nodes[next].inputs.first(where: { $0 != node.output }),
                    lastReader[other] == next, other != output
                {
                    residual = try value(other, nodes[next])
                    made = nodes[next].output
                    next += 1
                }
                let fused = try activation(at: next)
                if fused != nil {
                    made = nodes[next].output
                    next += 1
                }
                values[made] = try convolution(
                    try value(node.inputs[0], node), weight: weight,
                    bias: node.inputs.count > 2 ? constants[node.inputs[2]] : nil, stride: spec.stride,
                    padBefore: (pads[0], pads[1]), padAfter: (pads[2], pads[3]), groups: spec.groups,
                    residual: residual, activation: fused ?? .none)
                i = next
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
