import Torch
import Vision

/// Anything the learner can iterate over in batches of (inputs, targets).
public protocol BatchSource: AnyObject {
    var batchCount: Int { get }
    /// The batches of `epoch` (targets are int64 class indices).
    func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)>
}

/// A labelled image loader is a batch source; unlabelled batches are left out.
extension DataLoader: BatchSource {
    public func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        let stream = batches(epoch: epoch)
        return AnySequence(stream.lazy.compactMap { batch in batch.labels.map { (batch.images, $0) } })
    }
}
