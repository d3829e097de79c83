import Torch

extension QuantizedNetwork {
    /// Writes the INT8 network of `body` (from `input` to `output`, quantized with `ranges`) into `graph` as ONNX's
    /// QDQ form, from the value `image` (the normalised image) on, and returns the name of its float output.
    ///
    /// Every activation Quadrat keeps as uint8 passes through QuantizeLinear and DequantizeLinear with the same
    /// scale and zero point; each convolution reads its int8 weights through a per-channel DequantizeLinear and its
    /// int32 bias (scale: input scale × weight scale, the bias-corrected bias) through another. A runtime that fuses
    /// the pattern (ONNX Runtime's QLinearConv, OpenVINO) runs the same integer arithmetic; any other computes the
    /// same numbers in float. The float32 prefix (``QuantizedNetwork/Planned/computesInFloat``) reads the image and
    /// its float weights as they are, and only its last output is quantized.
    public static func exportQDQ(
        _ body: InferenceGraph, input: String, output: String, ranges: ActivationRanges, image: String,
        into graph: inout InferenceGraph
    ) throws -> String {
        let constants = body.constantsByName
        var dequantized: [String: String] = [:]
        func value(_ name: String) throws -> String {
            guard let v = dequantized[name] else { throw TorchError("INT8 export: no value \(name)") }
            return v
        }
        let inputParameters = try ranges.parameters(input)
        let planned = try plan(body, output: output, ranges: ranges)
        dequantized[input] =
            readsTheImageInFloat(planned) ? image : try graph.quantizeDequantize(image, inputParameters)
        var parameters = [input: inputParameters]
        for p in planned {
            let node = p.node
            var y: String
            switch node.op {
            case "Conv" where p.computesInFloat:
                guard let weight = constants[node.inputs[1]] else {
                    throw TorchError("INT8 export: Conv \(node.name) lacks its weight")
                }
                let w = try graph.constant(weight, name: "conv.weight")
                let b =
                    try node.inputs.count > 2
                    ? constants[node.inputs[2]].map { try graph.constant($0, name: "conv.bias") } : nil
                y = graph.add("Conv", [try value(node.inputs[0]), w] + (b.map { [$0] } ?? []), node.attributes)
            case "Conv":
                guard let x = parameters[node.inputs[0]], let weight = constants[node.inputs[1]] else {
                    throw TorchError("INT8 export: Conv \(node.name) lacks its input or weight")
                }
                let spec = try ConvNode(node)
                let q = try QuantizedConv2d.quantize(
                    weight: weight, bias: node.inputs.count > 2 ? constants[node.inputs[2]] : nil, groups: spec.groups,
                    inputMeans: try ranges.meanTensor(node.inputs[0]))
                let w = try graph.dequantizedWeight(q.integers, scales: q.scales)
                let b = try q.bias.map { try graph.dequantizedBias($0, scales: q.scales * x.scale) }
                y = graph.add("Conv", [try value(node.inputs[0]), w] + (b.map { [$0] } ?? []), node.attributes)
            case "Add":
                y = graph.add("Add", [try value(node.inputs[0]), try value(node.inputs[1])])
            default:
                y = graph.add("MaxPool", [try value(node.inputs[0])], node.attributes)
            }
            if let (low, high) = try p.clamp(constants) {
                y = try high.map { try graph.clip(y, low: low, high: $0) } ?? graph.add("Relu", [y])
            }
            dequantized[p.output] = p.keepsFloat ? y : try graph.quantizeDequantize(y, p.parameters)
            parameters[p.output] = p.parameters
        }
        return try value(output)
    }
}

extension InferenceGraph {
    /// QuantizeLinear then DequantizeLinear of `x` to uint8 with `q`: the value as INT8 holds it.
    mutating func quantizeDequantize(_ x: String, _ q: QuantizationParameters) throws -> String {
        let scale = try constant(Tensor([Float(q.scale)], shape: []), name: "q.scale")
        let zero = try constant(Tensor([UInt8(q.zeroPoint)], shape: []), name: "q.zero_point")
        return add("DequantizeLinear", [add("QuantizeLinear", [x, scale, zero]), scale, zero])
    }

    /// An int8 weight (out × … ) read through a per-output-channel DequantizeLinear.
    mutating func dequantizedWeight(_ integers: Tensor, scales: Tensor) throws -> String {
        let w = try int8Constant(integers, name: "conv.weight_int8")
        let s = try constant(scales, name: "conv.weight_scale")
        let zero = try int8Constant(Tensor.zeros([scales.count]), name: "conv.weight_zero_point")
        return add("DequantizeLinear", [w, s, zero], [("axis", .int(0))])
    }

    /// A float bias rounded to int32 at `scales` (input scale × each channel's weight scale), read back through a
    /// per-channel DequantizeLinear.
    mutating func dequantizedBias(_ bias: Tensor, scales: Tensor) throws -> String {
        let integers = try (bias / scales).rounded().to(.int32)
        let b = try constant(integers, name: "conv.bias_int32")
        let s = try constant(scales, name: "conv.bias_scale")
        let zero = try constant(Tensor.zeros([scales.count], dtype: .int32), name: "conv.bias_zero_point")
        return add("DequantizeLinear", [b, s, zero], [("axis", .int(0))])
    }
}
