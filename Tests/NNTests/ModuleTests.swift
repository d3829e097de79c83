import TestSupport
import Testing
import Torch

@testable import NN

/// A two-level model whose names match what PyTorch would give `nn.Sequential(conv, bn, ...)`.
final class TinyNet: Module {
    let features: Sequential
    let fc: Linear

    init(classes: Int = 2) throws {
        features = Sequential([
            try Conv2d(3, 4, kernel: 3, padding: 1, bias: false), try BatchNorm2d(4), ReLU(), AdaptiveAvgPool2d(1),
            Flatten(),
        ])
        fc = try Linear(4, classes)
        super.init()
        registerModule("features", features)
        registerModule("fc", fc)
    }

    override func forward(_ x: Tensor) throws -> Tensor { try fc(features(x)) }
}

@Suite("Modules and state dicts")
struct ModuleTests {
    @Test func namesMatchPyTorch() throws {
        let net = try TinyNet()
        #expect(
            net.namedParameters().map(\.name) == [
                "features.0.weight", "features.1.weight", "features.1.bias", "fc.weight", "fc.bias",
            ])
        #expect(
            net.namedBuffers().map(\.name) == [
                "features.1.running_mean", "features.1.running_var", "features.1.num_batches_tracked",
            ])
        #expect(net.stateDict().count == 8)
        #expect(try net(Tensor.randn([2, 3, 8, 8])).shape == [2, 2])
    }

    @Test func poolingModules() throws {
        let x = try Tensor.arange(1, 17, dtype: .float32).reshaped([1, 1, 4, 4])
        #expect(try Pool2d(.max, kernel: 2)(x).floats() == [6, 8, 14, 16])
        #expect(try Pool2d(.average, kernel: 2)(x).floats() == [3.5, 5.5, 11.5, 13.5])
        #expect(try Pool2d(.max, kernel: 3, stride: 2, padding: 1)(x).floats() == [6, 8, 14, 16])
        #expect(try AdaptiveMaxPool2d()(x).floats() == [16])
    }

    @Test func trainAndEvalReachEveryModule() throws {
        let net = try TinyNet()
        net.eval()
        #expect(net.namedModules().allSatisfy { !$0.module.isTraining })
        net.train()
        #expect(net.namedModules().allSatisfy { $0.module.isTraining })
    }

    @Test func strictLoadReportsEveryProblemAndChangesNothing() throws {
        let net = try TinyNet()
        let before = try net.fc.weight.floats()
        var state = net.stateDict()
        state["fc.weight"] = try Tensor.zeros([3, 4])
        state["extra.weight"] = try Tensor.zeros([1])
        state.removeValue(forKey: "fc.bias")
        do {
            try net.load(state)
            Issue.record("strict load accepted a bad state dict")
        } catch let report as LoadReport {
            #expect(report.missing == ["fc.bias"])
            #expect(report.unexpected == ["extra.weight"])
            #expect(report.mismatched == ["fc.weight: expected [2, 4], got [3, 4]"])
            #expect(report.description.contains("missing keys (1): fc.bias"))
        }
        #expect(try net.fc.weight.floats() == before)
        // Partial load: what matches is loaded, the rest reported.
        state["features.0.weight"] = try Tensor.ones([4, 3, 3, 3])
        let report = try net.load(state, strict: false)
        #expect(report.missing == ["fc.bias"])
        #expect(try net.features.children[0].module.namedParameters()[0].tensor.floats().allSatisfy { $0 == 1 })
    }

    @Test func loadRoundTripsThroughSafetensors() throws {
        let a = try TinyNet(), b = try TinyNet()
        let url = try Fixtures.temporaryFolder().appendingPathComponent("tiny.safetensors")
        try Safetensors.write(a.stateDict(), to: url)
        try b.load(Safetensors.read(url).tensors)
        a.eval()
        b.eval()
        let x = try Tensor.randn([1, 3, 6, 6])
        #expect(try maxAbsDifference(a(x), b(x)) == 0)
    }

    @Test func batchNormTracksBatchesAndCanFreezeStatistics() throws {
        let bn = try BatchNorm2d(2)
        let x = try Tensor.randn([4, 2, 3, 3]) * 3 + 1
        _ = try bn(x)
        #expect(try bn.batchesTracked.item() == 1)
        let mean = try bn.runningMean.floats()
        bn.updatesStatistics = false
        _ = try bn(x)
        #expect(try bn.runningMean.floats() == mean)
        #expect(try bn.batchesTracked.item() == 1)
    }

    @Test func noTensorLeaksAfterATrainingStep() throws {
        let net = try TinyNet()
        let optimizer = SGD(net.parameters, learningRate: 0.1, momentum: 0.9)
        let x = try Tensor.randn([4, 3, 8, 8]), y = try Tensor([0, 1, 1, 0] as [Int64])
        func step() throws {
            try optimizer.zeroGrad()
            let loss = try Functional.crossEntropy(net(x), target: y)
            try loss.backward()
            try optimizer.step()
        }
        try step()  // the first step creates momentum buffers and gradients
        let baseline = Tensor.liveCount
        for _ in 0..<3 { try step() }
        #expect(Tensor.liveCount == baseline)
    }
}
