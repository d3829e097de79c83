import Torch

/// How a backbone expects its input: (pixel − mean) / std per channel, pixels on the 0–255 scale.
public struct Normalization: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    /// The TensorFlow-Lite convention of the EfficientNet-Lite checkpoints: (x − 127) / 128.
    public static let tfLite = Normalization(mean: [127, 127, 127], std: [128, 128, 128])
    /// ImageNet channel statistics (torchvision's models).
    public static let imageNet = Normalization(
        mean: [0.485 * 255, 0.456 * 255, 0.406 * 255], std: [0.229 * 255, 0.224 * 255, 0.225 * 255])

    /// Normalises an N×3×H×W float batch of 0–255 pixels.
    public func apply(_ x: Tensor) throws -> Tensor {
        let m = try Tensor(mean.map(Float.init), shape: [1, 3, 1, 1])
        let s = try Tensor(std.map(Float.init), shape: [1, 3, 1, 1])
        return try (x - m) / s
    }

    /// ``apply(_:)`` for inputs that are each one planar 3×`side`×`side` image of 0–255 pixels: the N×3×H×W batch,
    /// normalised while the planes are copied into it. The same float32 arithmetic, (x − mean) / std, so the same
    /// bits as `apply`; one pass over the pixels where stacking them and `apply` took three (a server's batch).
    public func batch(_ inputs: [[Float]], side: Int) throws -> Tensor {
        let plane = side * side
        let means = mean.map(Float.init), stds = std.map(Float.init)
        guard means.count == 3, stds.count == 3 else {
            throw TorchError("a normalisation needs 3 means and 3 deviations, not \(means.count) and \(stds.count)")
        }
        for input in inputs where input.count != 3 * plane {
            throw TorchError("an input of \(input.count) values is not 3×\(side)×\(side)")
        }
        let planes = [Float](unsafeUninitializedCapacity: inputs.count * 3 * plane) { out, count in
            for (n, input) in inputs.enumerated() {
                // Not empty (checked above, and a model's side is at least 32): the base addresses exist.
                input.withUnsafeBufferPointer { x in
                    for c in 0..<3 {
                        let (m, s, base) = (means[c], stds[c], (n * 3 + c) * plane)
                        normalize(x.baseAddress! + c * plane, into: out.baseAddress! + base, count: plane, m, s)
                    }
                }
            }
            count = inputs.count * 3 * plane
        }
        return try Tensor(planes, shape: [inputs.count, 3, side, side])
    }

    /// `out[i] = (x[i] − m) / s` for `count` floats, sixteen at a time (the compiler leaves the plain loop scalar).
    private func normalize(
        _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int, _ m: Float, _ s: Float
    ) {
        let (vm, vs) = (SIMD16<Float>(repeating: m), SIMD16<Float>(repeating: s))
        let whole = count / 16 * 16
        for i in stride(from: 0, to: whole, by: 16) {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: (v - vm) / vs, as: SIMD16<Float>.self)
        }
        for i in whole..<count { out[i] = (x[i] - m) / s }
    }
}
