import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// Backbone logits against the reference PyTorch definitions (scripts/fixtures/backbones.py).
@Suite("Backbones equal PyTorch", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct BackboneParityTests {
    let reference: [String: Tensor]

    init() throws {
        Torch.useAllCores()
        reference = try Fixtures.tensors("backbone_logits.safetensors")
    }

    /// Largest difference relative to the logits' scale.
    func relativeError(_ got: Tensor, _ key: String) throws -> Double {
        let want = try #require(reference[key], "fixture \(key)")
        return try maxAbsDifference(got, want) / want.abs().max().item()
    }

    @Test(arguments: EfficientNetLite.Variant.allCases)
    func efficientNetLite(variant: EfficientNetLite.Variant) throws {
        let model = try EfficientNetLite(variant, dropConnect: 0, dropout: 0)
        let file = try #require(
            try FileManager.default.contentsOfDirectory(
                atPath: Fixtures.cacheHome.appendingPathComponent("weights").path
            )
            .first { $0.hasPrefix("efficientnet-\(variant.rawValue)-") })
        try model.load(Checkpoint.load(Fixtures.cacheHome.appendingPathComponent("weights/\(file)")))
        let x = try patternInput(batch: 2, size: variant.defaultSize)
        model.eval()
        let eval = try Torch.withoutGrad { try model(x) }
        #expect(try relativeError(eval, "\(variant.rawValue)_eval") <= 1e-4)
        model.train()
        let train = try Torch.withoutGrad { try model(x) }
        #expect(try relativeError(train, "\(variant.rawValue)_train") <= 1e-4)
    }

    @Test(arguments: ResNet.Depth.allCases)
    func resNet(depth: ResNet.Depth) throws {
        let model = try ResNet(depth)
        try model.load(Checkpoint.load(Fixtures.url("resnet\(depth.rawValue)_random.pth")))
        let x = try patternInput(batch: 2, size: 224)
        model.eval()
        #expect(try relativeError(Torch.withoutGrad { try model(x) }, "resnet\(depth.rawValue)_eval") <= 1e-4)
        model.train()
        #expect(try relativeError(Torch.withoutGrad { try model(x) }, "resnet\(depth.rawValue)_train") <= 1e-4)
    }

    @Test func inferenceCopiesAgreeWithPlainModels() throws {
        let resnet = try ResNet(.resnet18)
        try resnet.load(Checkpoint.load(Fixtures.url("resnet18_random.pth")))
        let lite = try EfficientNetLite(.lite0)
        try lite.load(
            Checkpoint.load(Fixtures.cacheHome.appendingPathComponent("weights/efficientnet-lite0-57934424.pth")))
        let x = try patternInput(batch: 2, size: 224)
        for model in [resnet as Backbone, lite] {
            model.eval()
            let plain = try Torch.withoutGrad { try model(x) }
            try model.prepareForInference()
            let folded = try Torch.inferenceMode { try model(x.contiguous(.channelsLast)) }
            #expect(try maxAbsDifference(folded, plain) / plain.abs().max().item() <= 1e-4, "\(type(of: model))")
        }
    }
}
