import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

@testable import Learn

@Suite(
    "Precompute and TTA on a pretrained classifier", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct ClassifierLearnerTests {
    @Test func precomputedAndLiveActivationsGiveTheSameHeadGradients() throws {
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"])
        let x = try patternInput(batch: 4, size: 64), y = try Tensor([0, 1, 0, 1] as [Int64])
        classifier.train()
        classifier.body.eval()  // a frozen body: fixed BatchNorm statistics, no stochastic depth
        let tail = classifier.headAfterPooling
        func headGradients() throws -> [[Float]] { try tail.parameters.map { try #require(try $0.grad).floats() } }

        try classifier.zeroGrad()
        Torch.manualSeed(5)
        try Functional.crossEntropy(classifier(x), target: y).backward()
        let live = try headGradients()

        let features = try Torch.withoutGrad { try classifier.pooledFeatures(x) }
        try classifier.zeroGrad()
        Torch.manualSeed(5)  // same dropout masks
        try Functional.crossEntropy(tail(features), target: y).backward()
        let precomputed = try headGradients()
        #expect(live.count == precomputed.count && !live.isEmpty)
        for (a, b) in zip(live, precomputed) {
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-5)
        }
    }

    @Test func ttaOfAFlipInvariantImageEqualsThePlainPrediction() throws {
        // Symmetric about the vertical axis: random flips change nothing.
        let (learner, loader) = try symmetricImages { dx, _, y in dx * 6 + y * 3 }
        var flipOnly = Augmentation()
        flipOnly.probability = 0
        try expectSame(
            try learner.predictWithTTA(loader, views: 0),
            try learner.predictWithTTA(loader, views: 4, augmentation: flipOnly))
    }

    @Test func ttaOverTheSymmetriesOfASymmetricImageEqualsThePlainPrediction() throws {
        // Symmetric under all eight flips and quarter turns: the fixed symmetry views change nothing.
        let (learner, loader) = try symmetricImages { dx, dy, _ in dx * dx + dy * dy }
        #expect(Augmentation.dihedralOnly.isSymmetriesOnly)
        try expectSame(
            try learner.predictWithTTA(loader, views: 0),
            try learner.predictWithTTA(loader, views: 4, augmentation: .dihedralOnly))
    }

    @Test func precomputedFeaturesOfAViewAreThoseOfTheTransformedPhoto() throws {
        // Photo 1 is photo 0 mirrored left to right on disk; symmetry 1 mirrors on the fly.
        let folder = try Fixtures.temporaryFolder()
        let size = 40
        var pixels = [[UInt8]](repeating: [UInt8](repeating: 0, count: size * size * 3), count: 2)
        for y in 0..<size {
            for x in 0..<size {
                for c in 0..<3 {
                    let v = UInt8((x * 5 + y * y + c * 70) % 256)
                    pixels[0][(y * size + x) * 3 + c] = v
                    pixels[1][(y * size + (size - 1 - x)) * 3 + c] = v
                }
            }
        }
        var items: [ImageItem] = []
        for k in 0..<2 {
            let url = folder.appendingPathComponent("\(k).png")
            try writePNG(RGBImage(width: size, height: size, pixels: pixels[k]), to: url)
            items.append(ImageItem(url: url, name: "\(k)", label: k))
        }
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"])
        let loader = DataLoader(
            ImageDataset(items: items, classes: ["a", "b"]), size: 32, batchSize: 2, normalization: .tfLite)
        let plain = try classifier.precompute(loader).features.toArray(Float.self)
        let mirrored = try classifier.precompute(loader, view: .symmetry(1)).features.toArray(Float.self)
        let width = plain.count / 2
        let same = zip(mirrored[0..<width], plain[width...]).map { abs($0 - $1) }.max() ?? 1
        let plainGap = zip(plain[0..<width], plain[width...]).map { abs($0 - $1) }.max() ?? 0
        #expect(same < 1e-4, "mirrored view of photo 0 against photo 1: \(same)")
        #expect(plainGap > 1e-2, "the two photos must differ for the test to mean anything: \(plainGap)")
        #expect(loader.augmentation == nil, "the loader's own augmentation is put back")
    }

    /// Three 40×40 PNGs whose pixels are `value(|2x − 39|, |2y − 39|, y)` (plus a per-image, per-channel
    /// offset), and a pretrained Lite0 learner over them.
    func symmetricImages(_ value: (Int, Int, Int) -> Int) throws -> (Learner, DataLoader) {
        let folder = try Fixtures.temporaryFolder()
        var items: [ImageItem] = []
        let size = 40
        for k in 0..<3 {
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            for y in 0..<size {
                for x in 0..<size {
                    let v = value(abs(2 * x - (size - 1)), abs(2 * y - (size - 1)), y)
                    for c in 0..<3 { pixels[(y * size + x) * 3 + c] = UInt8((v + c * 40 + k * 50) % 256) }
                }
            }
            let url = folder.appendingPathComponent("\(k).png")
            // PNG keeps the symmetry exact (JPEG blocks would not).
            try writePNG(RGBImage(width: size, height: size, pixels: pixels), to: url)
            items.append(ImageItem(url: url, name: "\(k)", label: k % 2))
        }
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"])
        let loader = DataLoader(
            ImageDataset(items: items, classes: ["a", "b"]), size: 32, batchSize: 3, normalization: .tfLite)
        return (Learner(model: classifier, groups: classifier.layerGroups, train: loader, valid: nil), loader)
    }

    func expectSame(
        _ plain: (probabilities: [[Double]], items: [Int]), _ tta: (probabilities: [[Double]], items: [Int])
    ) throws {
        #expect(plain.items == tta.items && plain.probabilities.count == 3)
        for (p, q) in zip(plain.probabilities, tta.probabilities) {
            for (a, b) in zip(p, q) { #expect(abs(a - b) < 1e-4) }
        }
    }
}

/// Writes an 8-bit RGB PNG with libpng's simplified API (via the JPEG-free path of the tests).
func writePNG(_ image: RGBImage, to url: URL) throws {
    try PNGWriter.write(image, to: url)
}
