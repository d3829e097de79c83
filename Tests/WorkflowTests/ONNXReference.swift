import Foundation
import ONNX
import Torch

/// Runs a decoded ONNX model with libtorch's operators: an independent reading of the file Quadrat wrote (what
/// the protobuf says, not what the exporter meant), for the operators Quadrat's exports use.
struct ONNXReference {
    let model: Onnx_ModelProto

    /// The graph's outputs for `inputs`, by name.
    func run(_ inputs: [String: Tensor]) throws -> [String: Tensor] {
        var values = inputs
        for t in model.graph.initializer { values[t.name] = try tensor(t) }
        for node in model.graph.node {
            let x = try node.input.map { name in
                guard let v = values[name] else { throw TorchError("\(node.name): input \(name) is not defined yet") }
                return v
            }
            if node.opType == "TopK" {
                // Two outputs: the largest values and their indices.
                let k = Int(try x[1].toArray(Int64.self)[0])
                let (largest, indices) = try x[0].topk(k, dim: int(node, "axis") ?? -1)
                (values[node.output[0]], values[node.output[1]]) = (largest, indices)
                continue
            }
            values[node.output[0]] = try evaluate(node, x)
        }
        return values.filter { name, _ in model.graph.output.contains { $0.name == name } }
    }

    func tensor(_ t: Onnx_TensorProto) throws -> Tensor {
        let shape = t.dims.map(Int.init)
        switch Onnx_TensorProto.DataType(rawValue: Int(t.dataType)) {
        case .int64: return try Tensor(t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Int64.self)) }, shape: shape)
        case .int32: return try Tensor(t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }, shape: shape)
        case .uint8: return try Tensor(Array(t.rawData), shape: shape)
        // int8 has no Tensor type here: read as float32, which holds every int8 exactly.
        case .int8: return try Tensor(t.rawData.map { Float(Int8(bitPattern: $0)) }, shape: shape)
        default: break
        }
        guard t.dataType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw TorchError("\(t.name): data type \(t.dataType)")
        }
        let floats = t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return try Tensor(floats, shape: t.dims.map(Int.init))
    }

    func ints(_ node: Onnx_NodeProto, _ name: String) -> [Int]? {
        node.attribute.first { $0.name == name }.map { $0.ints.map(Int.init) }
    }

    func int(_ node: Onnx_NodeProto, _ name: String) -> Int? {
        node.attribute.first { $0.name == name }.map { Int($0.i) }
    }

    func evaluate(_ node: Onnx_NodeProto, _ x: [Tensor]) throws -> Tensor {
        switch node.opType {
        case "Add": return try x[0] + x[1]
        case "Mul": return try x[0] * x[1]
        case "Relu": return try x[0].relu()
        case "Identity": return x[0]
        case "Clip":
            guard try x[1].item() == 0, try x[2].item() == 6 else { throw TorchError("Clip other than ReLU6") }
            return try x[0].relu6()
        case "Conv":
            let p = ints(node, "pads") ?? [0, 0, 0, 0], s = ints(node, "strides") ?? [1, 1]
            let d = ints(node, "dilations") ?? [1, 1]
            let padded = try Functional.pad(x[0], [p[1], p[3], p[0], p[2]])
            return try Functional.conv2d(
                padded, weight: x[1], bias: x.count > 2 ? x[2] : nil, stride: (s[0], s[1]), padding: (0, 0),
                dilation: (d[0], d[1]), groups: int(node, "group") ?? 1)
        case "MaxPool":
            let k = ints(node, "kernel_shape") ?? [], s = ints(node, "strides") ?? [1, 1]
            let p = ints(node, "pads") ?? [0, 0, 0, 0]
            guard p[0] == p[2], p[1] == p[3] else { throw TorchError("asymmetric MaxPool pads") }
            return try Functional.maxPool2d(x[0], kernel: (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]))
        case "GlobalMaxPool": return try Functional.adaptiveMaxPool2d(x[0], outputSize: (1, 1))
        case "GlobalAveragePool": return try Functional.adaptiveAvgPool2d(x[0], outputSize: (1, 1))
        case "Concat": return try Tensor.cat(x, dim: int(node, "axis") ?? 0)
        case "Flatten": return try x[0].flattened(from: int(node, "axis") ?? 1)
        case "Gemm":
            guard int(node, "transB") == 1 else { throw TorchError("Gemm without transB") }
            return try Functional.linear(x[0], weight: x[1], bias: x.count > 2 ? x[2] : nil)
        case "Softmax": return try Functional.softmax(x[0], dim: int(node, "axis") ?? -1)
        case "Sigmoid": return try x[0].sigmoid()
        case "Sub": return try x[0] - x[1]
        case "Div": return try x[0] / x[1]
        case "MatMul": return try x[0].matmul(x[1])
        case "Max": return try x[0].clamp(Double(x[1].item()), 1e30)  // against a scalar floor
        case "ReduceL2":
            return try (x[0] * x[0]).sum(ints(node, "axes") ?? [], keepDim: int(node, "keepdims") == 1).sqrt()
        case "ReduceMean": return try x[0].mean(ints(node, "axes") ?? [], keepDim: int(node, "keepdims") == 1)
        case "Greater":
            // Elementwise against a scalar threshold, as 0/1 (the Cast that follows keeps it).
            let threshold = Float(try x[1].item())
            return try Tensor(try x[0].toArray(Float.self).map { $0 > threshold ? Float(1) : 0 }, shape: x[0].shape)
        case "Cast":
            guard int(node, "to") == 1 else { throw TorchError("Cast to other than float") }
            return try x[0].to(.float32)
        case "QuantizeLinear":
            // To uint8 (the zero point's type), rounding half to even, saturating.
            return try ((x[0] / x[1].item()).rounded() + x[2].item()).clamp(0, 255).to(.uint8)
        case "DequantizeLinear":
            let (scale, zero) = (try x[1].to(.float32), try x[2].to(.float32))
            guard scale.rank == 1 else { return try (x[0].to(.float32) - zero) * scale }
            var shape = [Int](repeating: 1, count: x[0].rank)
            shape[int(node, "axis") ?? 1] = scale.count
            return try (x[0].to(.float32) - zero.reshaped(shape)) * scale.reshaped(shape)
        default: throw TorchError("operator \(node.opType) is not in the reference")
        }
    }
}
