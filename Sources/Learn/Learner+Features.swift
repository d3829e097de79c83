import Foundation
import NN
import Torch

extension Learner {
    /// Fits `part` of the model alone, on inputs of its own (the head after pooling, on activations precomputed by
    /// the frozen body), as a phase of this learner: the callbacks (keep-best, early stopping, the time budget, the
    /// Ctrl-C checkpoint, data-parallel averaging), the recorder and the epoch table see it as any other phase, and
    /// checkpoints hold the whole model. Around the fit:
    /// - the body is frozen and the frozen groups' rates are 0 (only `part`'s parameters get gradients);
    /// - it runs in float32, as the activations are stored, and each rank of a data-parallel group validates on all of
    ///   `validFeatures`;
    /// - the image loaders' epoch count is left as it was before the phase (their shuffling and the dropout seeds
    ///   count image epochs), and the optimizer forgets the phase's moments afterwards, as a phase apart.
    public func fitOnFeatures(
        _ part: Module, train features: BatchSource, valid validFeatures: BatchSource?, rate: Double, cycles: Int,
        from first: Int = 0
    ) throws {
        let saved = (train, valid, network, mixedPrecision, inferenceMixedPrecision, predictionGroup)
        let imageEpochs = epochsDone - first
        defer {
            (train, valid, network, mixedPrecision, inferenceMixedPrecision, predictionGroup) = saved
            epochsDone = imageEpochs
            optimizer.resetState()
        }
        (train, valid, network, mixedPrecision, inferenceMixedPrecision) = (features, validFeatures, part, false, false)
        // Every rank holds all of the validation activations: nothing to join.
        predictionGroup = nil
        try freeze()
        let rates = Array(repeating: 0.0, count: groups.count - 1) + [rate]
        try fitSGDR(rates: rates, cycles: cycles, from: first)
    }
}
