import NN
import TestSupport
import Testing
import Torch

/// Three steps of each optimizer against `torch.optim` (fixture from scripts/fixtures/core.py).
@Suite("Optimizers against PyTorch")
struct OptimizerTests {
    let fixture: [String: Tensor]

    init() throws { fixture = try Fixtures.tensors("optimizer_steps.safetensors") }

    func run(_ name: String, _ make: (Tensor) -> Optimizer) throws {
        let p = try #require(fixture["p0"]).clone().detached().requiringGrad()
        let optimizer = make(p)
        for i in 0..<3 {
            try p.zeroGrad()
            // Set the gradient through autograd: d(sum(p * g))/dp = g.
            try (p * #require(fixture["grad\(i)"])).sum().backward()
            try optimizer.step()
            let expected = try #require(fixture["\(name)_after\(i)"])
            #expect(try maxAbsDifference(p, expected) < 1e-12, "\(name) step \(i)")
        }
    }

    @Test func sgdWithMomentumAndWeightDecay() throws {
        try run("sgd") { SGD([$0], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01) }
    }

    @Test func sgdNesterov() throws {
        try run("sgd_nesterov") { SGD([$0], learningRate: 0.05, momentum: 0.8, weightDecay: 0.001, nesterov: true) }
    }

    @Test func adamW() throws {
        try run("adamw") { AdamW([$0], learningRate: 0.01, betas: (0.9, 0.99), eps: 1e-8, weightDecay: 0.1) }
    }

    @Test func groupsHaveTheirOwnRatesAndStateRoundTrips() throws {
        let a = try Tensor.ones([2]).requiringGrad(), b = try Tensor.ones([2]).requiringGrad()
        let sgd = SGD([
            ParameterGroup([a], learningRate: 0.1, momentum: 0.5), ParameterGroup([b], learningRate: 1, momentum: 0.5),
        ])
        try (a.sum() + b.sum()).backward()
        try sgd.step()
        #expect(try a.floats() == [0.9, 0.9])
        #expect(try b.floats() == [0, 0])
        sgd.groups[1].learningRate = 0.5  // a scheduler changes rates between steps
        let state = try sgd.stateTensors()
        #expect(Set(state.keys) == ["0.0.momentum_buffer", "1.0.momentum_buffer", "0.0.step", "1.0.step"])
        let restored = SGD(sgd.groups)
        try restored.loadStateTensors(state)
        try restored.step()  // grads still 1: buffer = 0.5·1 + 1 = 1.5
        #expect(try b.floats() == [-0.75, -0.75])
        #expect(throws: TorchError.self) { try restored.loadStateTensors(["5.0.momentum_buffer": Tensor.ones([2])]) }
    }
}
