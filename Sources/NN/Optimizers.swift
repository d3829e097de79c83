import Foundation
import Torch

/// Parameters that share hyper-parameters. A scheduler may change any field before each step.
public struct ParameterGroup {
    public var parameters: [Tensor]
    public var learningRate: Double
    /// SGD momentum, or Adam's β₁.
    public var momentum: Double
    /// Adam's β₂.
    public var beta2: Double
    public var weightDecay: Double
    public var eps: Double

    public init(
        _ parameters: [Tensor], learningRate: Double, momentum: Double = 0.9, beta2: Double = 0.99,
        weightDecay: Double = 0, eps: Double = 1e-8
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.beta2 = beta2
        self.weightDecay = weightDecay
        self.eps = eps
    }
}

/// Updates parameters from their gradients. Subclasses implement ``update(_:group:state:)``.
open class Optimizer {
    public var groups: [ParameterGroup]
    /// Per-parameter state (momentum buffers, moments), by parameter identity.
    var states: [ObjectIdentifier: [String: Tensor]] = [:]
    /// Steps taken, per parameter (Adam's bias correction).
    var stepCounts: [ObjectIdentifier: Int] = [:]

    public init(_ groups: [ParameterGroup]) { self.groups = groups }

    /// Forgets every parameter's state (moments, momentum buffers, step counts), as a fresh optimizer would.
    public func resetState() {
        states = [:]
        stepCounts = [:]
    }

    /// Applies one update to every parameter that has a gradient.
    public func step() throws {
        try Torch.withoutGrad {
            for group in groups {
                for p in group.parameters {
                    guard let g = try p.grad else { continue }
                    let id = ObjectIdentifier(p)
                    var state = states[id] ?? [:]
                    stepCounts[id, default: 0] += 1
                    try update(p, gradient: g, group: group, state: &state, step: stepCounts[id] ?? 1)
                    states[id] = state
                }
            }
        }
    }

    /// Drops all gradients of all groups.
    public func zeroGrad() throws {
        for group in groups { for p in group.parameters { try p.zeroGrad() } }
    }

    /// Updates one parameter in place. Called without gradient recording.
    open func update(
        _ p: Tensor, gradient: Tensor, group: ParameterGroup, state: inout [String: Tensor], step: Int
    ) throws {
        throw TorchError("\(type(of: self)) does not implement update")
    }

    /// The optimizer's state as named tensors ("<group>.<param>.<name>"), for checkpoints.
    public func stateTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (gi, group) in groups.enumerated() {
            for (pi, p) in group.parameters.enumerated() {
                let id = ObjectIdentifier(p)
                for (name, t) in states[id] ?? [:] { out["\(gi).\(pi).\(name)"] = t }
                if let n = stepCounts[id] { out["\(gi).\(pi).step"] = try Tensor([Int64(n)], shape: []) }
            }
        }
        return out
    }

    /// Restores state written by ``stateTensors()`` for the same parameter layout.
    public func loadStateTensors(_ tensors: [String: Tensor]) throws {
        states = [:]
        stepCounts = [:]
        for (key, t) in tensors {
            let parts = key.split(separator: ".", maxSplits: 2).map(String.init)
            guard parts.count == 3, let gi = Int(parts[0]), let pi = Int(parts[1]), gi < groups.count,
                pi < groups[gi].parameters.count
            else { throw TorchError("optimizer state entry '\(key)' does not match the parameter groups") }
            let id = ObjectIdentifier(groups[gi].parameters[pi])
            if parts[2] == "step" {
                stepCounts[id] = Int(try t.item())
            } else {
                states[id, default: [:]][parts[2]] = try t.clone()
            }
        }
    }
}

/// Stochastic gradient descent with momentum, optional Nesterov, and L2 weight decay,
/// as `torch.optim.SGD` (dampening 0).
public final class SGD: Optimizer {
    public let nesterov: Bool

    public init(_ groups: [ParameterGroup], nesterov: Bool = false) {
        self.nesterov = nesterov
        super.init(groups)
    }

    public convenience init(
        _ parameters: [Tensor], learningRate: Double, momentum: Double = 0, weightDecay: Double = 0,
        nesterov: Bool = false
    ) {
        self.init(
            [ParameterGroup(parameters, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)],
            nesterov: nesterov)
    }

    public override func update(
        _ p: Tensor, gradient: Tensor, group: ParameterGroup, state: inout [String: Tensor], step: Int
    ) throws {
        var g = gradient
        if group.weightDecay != 0 { g = try g + p * group.weightDecay }
        if group.momentum != 0 {
            let buffer: Tensor
            if let b = state["momentum_buffer"] {
                try b.mulInPlace(group.momentum)
                try b.addInPlace(g)
                buffer = b
            } else {
                buffer = try g.clone()
                state["momentum_buffer"] = buffer
            }
            g = nesterov ? try g + buffer * group.momentum : buffer
        }
        try p.addInPlace(g, alpha: -group.learningRate)
    }
}

/// Adam with decoupled weight decay, as `torch.optim.AdamW` (`momentum` is β₁).
public final class AdamW: Optimizer {
    public convenience init(
        _ parameters: [Tensor], learningRate: Double, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
        weightDecay: Double = 0.01
    ) {
        self.init([
            ParameterGroup(
                parameters, learningRate: learningRate, momentum: betas.0, beta2: betas.1, weightDecay: weightDecay,
                eps: eps)
        ])
    }

    public override func update(
        _ p: Tensor, gradient g: Tensor, group: ParameterGroup, state: inout [String: Tensor], step: Int
    ) throws {
        let lr = group.learningRate, beta1 = group.momentum, beta2 = group.beta2
        if group.weightDecay != 0 { try p.mulInPlace(1 - lr * group.weightDecay) }
        let m = try state["exp_avg"] ?? Tensor.zeros(p.shape, dtype: p.dtype)
        let v = try state["exp_avg_sq"] ?? Tensor.zeros(p.shape, dtype: p.dtype)
        state["exp_avg"] = m
        state["exp_avg_sq"] = v
        try m.mulInPlace(beta1)
        try m.addInPlace(g, alpha: 1 - beta1)
        try v.mulInPlace(beta2)
        try v.addcmulInPlace(g, g, value: 1 - beta2)
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        let denominator = try v.sqrt() / correction2.squareRoot() + group.eps
        try p.addcdivInPlace(m, denominator, value: -lr / correction1)
    }
}
