import NN
import Torch

/// Max and average pooling to 1×1, concatenated (max first), as fastai's `AdaptiveConcatPool2d`.
public final class AdaptiveConcatPool2d: Module {
    public override func forward(_ x: Tensor) throws -> Tensor {
        try Tensor.cat(
            [Functional.adaptiveMaxPool2d(x, outputSize: (1, 1)), Functional.adaptiveAvgPool2d(x, outputSize: (1, 1))],
            dim: 1)
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
