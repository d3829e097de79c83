import NN
import Torch

/// Makes a learner's optimizer from its parameters, one list per layer group, and a starting rate (fastai's
/// `opt_func`). Schedules change the groups' rates and momentum afterwards.
public struct OptimizerFactory {
    public let make: (_ groups: [[Tensor]], _ rate: Double) -> Optimizer

    public init(_ make: @escaping (_ groups: [[Tensor]], _ rate: Double) -> Optimizer) { self.make = make }

    /// AdamW with fastai's defaults (β₁ 0.9, β₂ 0.99, ε 1e-5) and decoupled weight decay: the learner's default.
    public static func adamW(weightDecay: Double = 0.01, beta2: Double = 0.99, eps: Double = 1e-5) -> OptimizerFactory {
        OptimizerFactory { groups, rate in
            AdamW(
                groups.map {
                    ParameterGroup(
                        $0, learningRate: rate, momentum: 0.9, beta2: beta2, weightDecay: weightDecay, eps: eps)
                })
        }
    }

    /// SGD with momentum (the schedules' momentum applies) and L2 weight decay.
    public static func sgd(weightDecay: Double = 0, nesterov: Bool = false) -> OptimizerFactory {
        OptimizerFactory { groups, rate in
            SGD(
                groups.map { ParameterGroup($0, learningRate: rate, momentum: 0.9, weightDecay: weightDecay) },
                nesterov: nesterov)
        }
    }
}
