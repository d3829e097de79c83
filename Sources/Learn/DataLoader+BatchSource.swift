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
        // An explicit iterator: `AnySequence(stream.lazy.compactMap { … })` here got the eager `compactMap`, which
        // built the whole epoch before the first step (BatchSourceTests).
        return AnySequence {
            AnyIterator {
                while let batch = stream.next() {
                    if let labels = batch.labels { return (batch.images, labels) }
                }
                return nil
            }
        }
    }
}
