import Foundation
import Torch
import Vision

extension Learner {
    /// Test-time augmentation: the mean of the class probabilities of the plain images and of
    /// `views` augmented views (fastai 0.7's default 4), drawn from the loader's own augmentation (or
    /// `augmentation`). When that augmentation is the symmetries of the square and nothing else
    /// (``Augmentation/isSymmetriesOnly``), random views would repeat some symmetries and miss others:
    /// the views are then the first `views` of the seven other symmetries (horizontal flip, vertical flip,
    /// half turn, transpose…) of the plain (centred) image, each once; `views` above 7 means all seven.
    public func predictWithTTA(
        _ loader: DataLoader, views: Int = 4, augmentation: Augmentation = .sideOn
    ) throws -> (probabilities: [[Double]], items: [Int]) {
        let result = try predictionsWithTTA(loader, views: views, augmentation: augmentation)
        return (result.probabilities, result.items)
    }

    /// As ``predictWithTTA(_:views:augmentation:)``, also giving the plain view's probabilities alone (`plain`,
    /// the same as `probabilities` when `views` is 0), which calibration fits separately.
    public func predictionsWithTTA(
        _ loader: DataLoader, views: Int = 4, augmentation: Augmentation = .sideOn
    ) throws -> (probabilities: [[Double]], plain: [[Double]], items: [Int]) {
        let original = loader.augmentation
        defer { loader.augmentation = original }
        let base = original ?? augmentation
        let symmetries = views > 0 && base.isSymmetriesOnly
        let views = symmetries ? min(views, 7) : views
        model.eval()
        var sums = ViewSums()
        var features: [Tensor] = []
        plainFeatures = nil
        let label = views == 0 ? "predict" : "predict with TTA ×\(views + 1)"
        let progress = Feedback.start(label, total: loader.dataset.items.count * (views + 1))
        try Torch.withoutGrad {
            if symmetries {
                // Each batch is built once and its symmetries are its pixels moved, without decoding and cropping
                // every photo eight times: the views of the centred crop (a non-square photo's views once took a
                // random crop position each), equal to the resampler's to its rounding.
                loader.augmentation = nil
                for batch in loader.batches(epoch: 0) {
                    for view in 0...views {
                        let logits =
                            try view == 0
                            ? plainLogits(batch.images, keeping: &features)
                            : forwardForPrediction(Augmentation.applySymmetry(view, to: batch.images))
                        try sums.add(task.activate(logits), items: batch.indices, plain: view == 0)
                    }
                    progress.advance(by: batch.indices.count * (views + 1))
                }
                return
            }
            for view in 0...views {
                loader.augmentation = view == 0 ? nil : base
                for batch in loader.batches(epoch: 0, view: view) {
                    let logits =
                        try view == 0
                        ? plainLogits(batch.images, keeping: &features) : forwardForPrediction(batch.images)
                    try sums.add(task.activate(logits), items: batch.indices, plain: view == 0)
                    progress.advance(by: batch.indices.count)
                }
            }
        }
        let result = sums.means
        // The loader gives the photos in order, each once in the plain view: the rows are the result's items.
        let rows = try features.isEmpty ? nil : Tensor.cat(features)
        plainFeatures = rows?.shape[0] == result.items.count ? rows : nil
        return result
    }

    /// The plain view's logits; with ``keepsPlainFeatures`` (a float32 ``Classifier``), its pooled body features from
    /// the same pass appended to `kept`.
    private func plainLogits(_ images: Tensor, keeping kept: inout [Tensor]) throws -> Tensor {
        guard keepsPlainFeatures, !inferenceMixedPrecision, let classifier = network as? Classifier else {
            return try forwardForPrediction(images)
        }
        let (logits, pooled) = try classifier.logitsAndPooledFeatures(images)
        kept.append(try pooled.to(.float32).contiguous())
        return try logits.to(.float32)
    }
}

/// Each photo's sum of its views' probabilities, and its plain view's own, as the batches come.
private struct ViewSums {
    private var sums: [Int: [Double]] = [:]
    private var counts: [Int: Int] = [:]
    private var plain: [Int: [Double]] = [:]

    /// Adds a batch's probabilities (N × C), row k being photo `items[k]`'s.
    mutating func add(_ probabilities: Tensor, items: [Int], plain isPlain: Bool) throws {
        let flat = try probabilities.toArray(Float.self), c = probabilities.shape[1]
        for (k, item) in items.enumerated() {
            let row = flat[(k * c)..<((k + 1) * c)].map(Double.init)
            sums[item] = zip(sums[item] ?? Array(repeating: 0, count: c), row).map { $0 + $1 }
            if isPlain { plain[item] = row }
            counts[item, default: 0] += 1
        }
    }

    /// The mean over each photo's views, its plain view's probabilities, and the photos, in item order.
    var means: (probabilities: [[Double]], plain: [[Double]], items: [Int]) {
        let items = sums.keys.sorted()
        return (
            items.map { i in (sums[i] ?? []).map { $0 / Double(counts[i] ?? 1) } }, items.map { plain[$0] ?? [] }, items
        )
    }
}
