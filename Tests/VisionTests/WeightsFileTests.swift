import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// `--weights` reads what people share: safetensors from Python's library as well as `torch.save` checkpoints,
/// under wrapper prefixes, with the missing keys named when a file does not fit.
@Suite("Weights files")
struct WeightsFileTests {
    @Test func safetensorsFromPythonUnderAModulePrefixReadLikeTheCheckpoint() throws {
        // Written by safetensors.torch.save_file (scripts/fixtures/weights.py) from resnet18_random.pth's stem.
        let stem = try WeightsFile.stateDict(Fixtures.url("resnet18_stem_wrapped.safetensors"))
        let checkpoint = try WeightsFile.stateDict(Fixtures.url("resnet18_random.pth"))
        #expect(
            Set(stem.keys) == [
                "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                "bn1.num_batches_tracked",
            ])
        for (name, tensor) in stem {
            let want = try #require(checkpoint[name])
            #expect(tensor.shape == want.shape, "\(name)")
            #expect(try tensor.rawBytes() == want.rawBytes(), "\(name)")
        }
    }

    @Test func aWholeModelInSafetensorsLoadsAndAPartialOneNamesTheMissingKeys() throws {
        let folder = try Fixtures.temporaryFolder()
        let full = try WeightsFile.stateDict(Fixtures.url("resnet18_random.pth"))
        let url = folder.appendingPathComponent("resnet18.bin")  // the extension says nothing: content decides
        try Safetensors.write(Dictionary(uniqueKeysWithValues: full.map { ("model.\($0.key)", $0.value) }), to: url)
        let resnet = try ResNet(.resnet18)
        try resnet.load(WeightsFile.stateDict(url))
        do {
            _ = try Classifier(
                .resNet18, classes: ["a", "b"], weights: Fixtures.url("resnet18_stem_wrapped.safetensors"))
            Issue.record("a stem alone was accepted as ResNet-18 weights")
        } catch {
            let text = "\(error)"
            #expect(text.contains("resnet18_stem_wrapped.safetensors does not hold resnet18 weights"), "\(text)")
            #expect(text.contains("missing keys") && text.contains("layer1.0."), "\(text)")
        }
    }
}
