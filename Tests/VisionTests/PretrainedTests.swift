import Foundation
import TestSupport
import Testing
import Torch
import Vision

/// The pretrained EfficientNet-Lite0 names real photos (set-up samples from Debian's python3-skimage).
@Suite(
    "Pretrained classifier on real photos", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct PretrainedTests {
    func top5(_ file: String, _ architecture: Architecture = .efficientNetLite0, folded: Bool) throws -> [String] {
        let network = try architecture.pretrainedImageNetNetwork()
        network.eval()
        if folded { try network.prepareForInference() }
        let image = try ImageDecoder(minimumSide: 256).decode(
            Fixtures.cacheHome.appendingPathComponent("samples/\(file)"))
        let x = try architecture.normalization.apply(
            Resize.evaluationView(image, size: architecture.defaultSize).unsqueezed(0))
        let logits = try Torch.withoutGrad { try network(x) }
        return try logits[0].topk(5).indices.toArray(Int64.self).map { imageNetClasses[Int($0)] }
    }

    @Test(arguments: [false, true])
    func namesTheCatAndTheCoffee(folded: Bool) throws {
        let cat = try top5("chelsea.png", folded: folded)
        #expect(cat.contains("tabby") && cat.contains("Egyptian cat") && cat.contains("tiger cat"), "\(cat)")
        let coffee = try top5("coffee.png", folded: folded)
        #expect(coffee.first == "espresso" && coffee.contains("cup"), "\(coffee)")
    }

    @Test func unknownArchitectureIsAClearError() {
        #expect(throws: VisionError.self) { try Architecture(named: "vgg16") }
        do {
            _ = try Architecture(named: "vgg16")
        } catch {
            #expect("\(error)".contains("efficientnet-lite0, efficientnet-lite1"))
        }
    }

    @Test func classifierLoadsPretrainedBodyAndNamesGroups() throws {
        let model = try Classifier(.efficientNetLite0, classes: ["functional", "defective"])
        #expect(model.layerGroups.count == 3)
        #expect(model.stateDict().keys.contains("body._blocks.0._depthwise_conv.weight"))
        #expect(!model.stateDict().keys.contains { $0.hasPrefix("body._fc") })
        let reference = try Checkpoint.load(Architecture.efficientNetLite0.weightsURL())
        #expect(
            try maxAbsDifference(
                #require(model.stateDict()["body._conv_head.weight"]), #require(reference["_conv_head.weight"])) == 0)
        model.eval()
        #expect(try Torch.withoutGrad { try model(Tensor.randn([2, 3, 224, 224])) }.shape == [2, 2])
        #expect(throws: VisionError.self) { try Classifier(.resNet18, classes: ["a", "b"]) }  // needs --weights
        #expect(throws: VisionError.self) { try Classifier(.efficientNetLite0, classes: ["only"]) }
    }
}
