import NN
import Torch

/// Max and average pooling to 1×1, concatenated (max first), as fastai's `AdaptiveConcatPool2d`.
public final class AdaptiveConcatPool2d: Module {
    public override func forward(_ x: Tensor) throws -> Tensor {
        try Tensor.cat([maxPooled(x), Functional.adaptiveAvgPool2d(x, outputSize: (1, 1))], dim: 1)
    }

    /// Each channel's largest value, N×C×1×1. Without gradients, as a reduction: the same values (a maximum is exact),
    /// where libtorch 1.13's adaptive max pooling of an NCHW map (what oneDNN's paths give the head) took 0.78 ms for
    /// Lite0's 8×1280×8×8 against 0.06 (Intel Xeon, family 6 model 207, 2 threads). In training the pooling stays:
    /// its gradient goes to one position of each channel, a reduction's is shared among ties.
    private func maxPooled(_ x: Tensor) throws -> Tensor {
        guard !Torch.isGradEnabled, x.rank == 4 else { return try Functional.adaptiveMaxPool2d(x, outputSize: (1, 1)) }
        return try x.max([2, 3], keepDim: true)
    }

    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        graph.add(
            "Concat", [graph.add("GlobalMaxPool", [input]), graph.add("GlobalAveragePool", [input])],
            [("axis", .int(1))])
    }
}

/// The classifier put on a backbone body.
public enum HeadKind: Codable, Sendable, Equatable {
    /// fastai's head: concat pool → flatten → BN → dropout(p/2) → linear(hidden) → ReLU → BN → dropout(p) → linear.
    case fastai(hidden: Int = 512, dropout: Double = 0.5)

    /// Builds the head for `features` input channels and `classes` outputs.
    public func make(features: Int, classes: Int) throws -> Sequential {
        switch self {
        case .fastai(let hidden, let p):
            // Linear layers after BatchNorm have no bias, as in fastai's LinBnDrop.
            return Sequential([
                AdaptiveConcatPool2d(), Flatten(),
                try BatchNorm1d(2 * features), Dropout(p / 2), try Linear(2 * features, hidden, bias: false), ReLU(),
                try BatchNorm1d(hidden), Dropout(p), try Linear(hidden, classes, bias: false),
            ])
        }
    }
}
