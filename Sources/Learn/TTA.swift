import Foundation
import Torch
import Vision

extension Learner {
    /// Test-time augmentation: the mean of the class probabilities of the plain images and of
    /// `views` augmented views (fastai 0.7's default 4), drawn from the loader's own augmentation (or
    /// `augmentation`). When that augmentation is the symmetries of the square and nothing else
    /// (``Augmentation/isSymmetriesOnly``), random views would repeat some symmetries and miss others:
    /// the views are then the first `views` of the seven other symmetries (horizontal flip, vertical flip,
    /// half turn, transpose…), each once; `views` above 7 means all seven.
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
        var sums: [Int: [Double]] = [:]
        var counts: [Int: Int] = [:]
        var plain: [Int: [Double]] = [:]
        let label = views == 0 ? "predict" : "predict with TTA ×\(views + 1)"
        let progress = Feedback.start(label, total: loader.dataset.items.count * (views + 1))
        for view in 0...views {
            loader.augmentation = view == 0 ? nil : symmetries ? .symmetry(view) : base
            try Torch.withoutGrad {
                for batch in loader.batches(epoch: 0, view: view) {
                    let logits = try forwardForPrediction(batch.images)
                    let p = try task.activate(logits)
                    let flat = try p.toArray(Float.self), c = p.shape[1]
                    for (k, item) in batch.indices.enumerated() {
                        let row = flat[(k * c)..<((k + 1) * c)].map(Double.init)
                        sums[item] = zip(sums[item] ?? Array(repeating: 0, count: c), row).map { $0 + $1 }
                        if view == 0 { plain[item] = row }
                        counts[item, default: 0] += 1
                    }
                    progress.advance(by: batch.indices.count)
                }
            }
        }
        let items = sums.keys.sorted()
        return (
            items.map { i in (sums[i] ?? []).map { $0 / Double(counts[i] ?? 1) } }, items.map { plain[$0] ?? [] }, items
        )
    }
}
