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
}
