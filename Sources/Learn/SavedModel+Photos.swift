import Foundation
import Torch
import Vision

/// Predictions for photos held in memory (an upload), prepared exactly as ``SavedModel/predict(_:ttaViews:augmentation:batchSize:mixedPrecision:)``
/// prepares files: the presize cache's steps, the crop (or squish or pad), resize and normalisation of the validation loader.
extension SavedModel {
    /// The model input for one photo, planar 3 × size × size on the 0–255 scale (not yet normalised).
    public func input(imageBytes: [UInt8], source: URL) throws -> [Float] {
        let image = try presizeCache.image(bytes: imageBytes, source: source)
        var noRandom: SeededRandom? = nil
        return ItemTransform(size: size, method: resize).apply(image, random: &noRandom)
    }

    /// Class probabilities for inputs made by ``input(imageBytes:source:)``, in one forward pass, calibrated as
    /// ``predict(_:ttaViews:augmentation:batchSize:mixedPrecision:calibrated:)`` calibrates plain predictions.
    public func probabilities(inputs: [[Float]], mixedPrecision: Bool = false) throws -> [[Double]] {
        try probabilitiesAndFeatures(inputs: inputs, mixedPrecision: mixedPrecision, withFeatures: false).probabilities
    }

    /// ``probabilities(inputs:mixedPrecision:)`` and, with `withFeatures`, the first member's pooled body features
    /// from the same forward pass (for the distance to the training photos, ``DriftReference``).
    public func probabilitiesAndFeatures(
        inputs: [[Float]], mixedPrecision: Bool = false, withFeatures: Bool
    ) throws -> (probabilities: [[Double]], features: Tensor?) {
        guard !inputs.isEmpty else { return ([], nil) }
        // NCHW: oneDNN's network reads it without a reorder, and ATen's path makes it channels-last itself.
        let x = try normalization.batch(inputs, side: size)
        // An ensemble's members' probabilities, averaged.
        var features: Tensor?
        let p = try Torch.withoutGrad {
            let each = try members.enumerated().map { k, member in
                func forward() throws -> Tensor {
                    guard k == 0, withFeatures else { return try member(x) }
                    let (logits, pooled) = try member.logitsAndPooledFeatures(x)
                    features = try pooled.to(.float32)
                    return logits
                }
                let logits = try mixedPrecision ? Torch.withAutocast { try forward() } : forward()
                return try task.task.activate(logits.to(.float32))
            }
            return try Tensor.stack(each).mean([0])
        }
        let flat = try p.toArray(Float.self), c = p.shape[1]
        let rows = (0..<p.shape[0]).map { i in flat[(i * c)..<((i + 1) * c)].map(Double.init) }
        // Every row NaN: the weights, refused. One NaN row among good ones: its photo's, for the caller to refuse.
        _ = try nonFiniteRows(rows)
        return (calibrate(rows, tta: false), features)
    }
}
