import Foundation
import Torch
import Vision

/// Grad-CAM (Selvaraju et al., 2017): which parts of the photo the evidence for a class comes from.
///
/// The last feature map A (C × h × w, the body's last convolutional stage) is weighted channel by channel by the
/// spatial mean of the class score's gradient with respect to it, summed over channels and passed through ReLU:
/// `cam = ReLU(Σ_k mean_ij(∂y_c/∂A_kij) · A_k)`. Each map is then stretched to 0–1 (minimum to 0, maximum to 1,
/// as the reference implementation shows it; all zero when the map is flat), so it shows where the evidence is
/// strongest, not how strong it is. The body runs without gradients; only the head is differentiated.
public enum GradCAM {
    /// One photo's answer: its class probabilities, the class explained and the heat map (h × w, row by row, 0–1).
    public struct Map: Sendable {
        public var probabilities: [Double]
        public var classIndex: Int
        public var width: Int, height: Int
        public var values: [Float]
    }

    /// Heat maps for a batch `input` (N × 3 × H × W, as the network takes it) given the body's `features` and
    /// the `head` that turns them into logits; `classes` picks the class per image (nil: each image's top class).
    public static func maps(
        input: Tensor, classes: [Int]? = nil, features: (Tensor) throws -> Tensor, head: (Tensor) throws -> Tensor,
        task: any ClassificationTask = SingleLabelTask()
    ) throws -> [Map] {
        let activations = try Torch.withoutGrad { try features(input) }.detached().to(.float32).requiringGrad()
        let logits = try head(activations)
        let n = logits.shape[0], c = logits.shape[1]
        let probabilities = try Torch.withoutGrad { try task.activate(logits.detached()) }
            .toArray(Float.self)
        let chosen =
            classes
            ?? (0..<n).map { i in
                let row = probabilities[(i * c)..<((i + 1) * c)]
                return row.indices.max { row[$0] < row[$1] }.map { $0 - i * c } ?? 0
            }
        guard chosen.count == n, chosen.allSatisfy({ (0..<c).contains($0) }) else {
            throw LearnError("Grad-CAM: \(chosen) are not class indices for \(n) images and \(c) classes")
        }
        var mask = [Float](repeating: 0, count: n * c)
        for (i, k) in chosen.enumerated() { mask[i * c + k] = 1 }
        try (logits * Tensor(mask, shape: [n, c])).sum().backward()
        guard let gradient = try activations.grad else { throw LearnError("Grad-CAM: the head gave no gradient") }
        let cam = try Torch.withoutGrad {
            let weights = try gradient.mean([2, 3], keepDim: true)
            return try (weights * activations.detached()).sum([1]).relu()
        }
        let h = cam.shape[1], w = cam.shape[2]
        let flat = try cam.contiguous().toArray(Float.self)
        return (0..<n).map { i in
            var values = Array(flat[(i * h * w)..<((i + 1) * h * w)])
            let low = values.min() ?? 0, peak = values.max() ?? 0
            if peak > low { values = values.map { ($0 - low) / (peak - low) } }
            return Map(
                probabilities: probabilities[(i * c)..<((i + 1) * c)].map(Double.init), classIndex: chosen[i],
                width: w, height: h, values: values)
        }
    }

    /// Heat maps from a classifier (its body's last stage, its head), for inputs it takes as they are.
    public static func maps(
        _ classifier: Classifier, input: Tensor, classes: [Int]? = nil, task: any ClassificationTask = SingleLabelTask()
    ) throws -> [Map] {
        let wasTraining = classifier.isTraining
        classifier.eval()
        defer {
            if wasTraining { classifier.train() }
        }
        let result = try maps(
            input: input, classes: classes, features: { try classifier.body.features($0) },
            head: { try classifier.head($0) }, task: task)
        // The backward pass also filled the head's parameter gradients: drop them.
        try classifier.zeroGrad()
        return result
    }
}

extension SavedModel {
    /// Grad-CAM for inputs made by ``input(imageBytes:source:)`` (normalised and laid out here as for prediction).
    public func gradCAM(inputs: [[Float]], classes: [Int]? = nil) throws -> [GradCAM.Map] {
        guard !inputs.isEmpty else { return [] }
        let x = try normalization.apply(Tensor(inputs.flatMap { $0 }, shape: [inputs.count, 3, size, size]))
            .contiguous(.channelsLast)
        return try GradCAM.maps(classifier, input: x, classes: classes, task: task.task)
    }

    /// The picture of a heat map: what the model sees of the photo (the crop at its input size, from the `input`
    /// the map was computed for) beside the same with the map over it.
    public func heatMapPicture(input: [Float], map: GradCAM.Map) throws -> RGBImage {
        let crop = try view(input)
        return HeatMap.sideBySide(crop, HeatMap.overlay(crop, values: map.values, width: map.width, height: map.height))
    }

    /// What the model sees of a photo: its input (made by ``input(imageBytes:source:)``) as an image.
    func view(_ input: [Float]) throws -> RGBImage {
        try RGBImage(tensor: Tensor(input, shape: [3, size, size]))
    }

    /// The heat map of the top class over the model's view of the photo at `url` (nil when the photo cannot be
    /// read: reports then show the photo alone).
    public func heatMapOverlay(of url: URL) -> RGBImage? {
        // Unreadable photos are listed in the report's problems section; here they just get no heat map.
        guard let input = try? input(imageBytes: FileBytes.read(url), source: url),
            let map = try? gradCAM(inputs: [input]).first,
            let crop = try? view(input)
        else { return nil }
        return HeatMap.overlay(crop, values: map.values, width: map.width, height: map.height)
    }
}
