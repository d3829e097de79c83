import Foundation
import Learn
import NN
import TestSupport
import Testing
import Torch
import Vision

@Suite struct GradCAMTests {
    /// Features A = the input, head = global average pool + linear W (no bias), so ∂y_c/∂A_kij = W[c,k] / (h·w)
    /// and cam = ReLU(Σ_k W[c,k] / 4 · A_k), which this case works out by hand.
    @Test func aHandComputedCase() throws {
        // A: channel 0 = [[1, 0], [0, 0]], channel 1 = [[0, 0], [0, 2]].
        let a = try Tensor([1, 0, 0, 0, 0, 0, 0, 2] as [Float], shape: [1, 2, 2, 2])
        let w = try Tensor([1, -1, 0.5, 1] as [Float], shape: [2, 2])
        let head: (Tensor) throws -> Tensor = { x in
            try Functional.linear(x.mean([2, 3]), weight: w, bias: nil)
        }
        // Class 0: ReLU([[1/4, 0], [0, −2/4]]) = [[0.25, 0], [0, 0]], scaled to a peak of 1.
        let first = try GradCAM.maps(input: a, classes: [0], features: { $0 }, head: head)
        #expect(first[0].values == [1, 0, 0, 0] && first[0].width == 2 && first[0].height == 2)
        // Class 1: [[0.5/4, 0], [0, 2/4]] = [[0.125, 0], [0, 0.5]] → [[0.25, 0], [0, 1]].
        let second = try GradCAM.maps(input: a, classes: [1], features: { $0 }, head: head)
        #expect(second[0].values == [0.25, 0, 0, 1])
        // The class defaults to the top one: logits (0.25 − 0.5, 0.125 + 0.5) → class 1.
        let top = try GradCAM.maps(input: a, features: { $0 }, head: head)
        #expect(top[0].classIndex == 1 && top[0].values == second[0].values)
        #expect(abs(top[0].probabilities.reduce(0, +) - 1) < 1e-6)
    }

    /// Images of noise where the class is the colour of a small square at a random place (red: 0, blue: 1).
    static func patchImages(
        count: Int, size: Int, patch: Int, seed: UInt64
    ) throws -> (
        x: Tensor, labels: [Int], corners: [(x: Int, y: Int)]
    ) {
        var rng = SeededRandom(seed: seed)
        var pixels = [Float](repeating: 0, count: count * 3 * size * size)
        var labels: [Int] = [], corners: [(Int, Int)] = []
        for n in 0..<count {
            let label = n % 2
            let x0 = Int(rng.next() % UInt64(size - patch)), y0 = Int(rng.next() % UInt64(size - patch))
            for c in 0..<3 {
                for y in 0..<size {
                    for x in 0..<size {
                        let inside = x >= x0 && x < x0 + patch && y >= y0 && y < y0 + patch
                        let value: Float =
                            inside ? (c == (label == 0 ? 0 : 2) ? 1 : 0) : Float(rng.next() % 1000) / 1000
                        pixels[((n * 3 + c) * size + y) * size + x] = value
                    }
                }
            }
            labels.append(label)
            corners.append((x0, y0))
        }
        return (try Tensor(pixels, shape: [count, 3, size, size]), labels, corners)
    }

    /// A small convolutional net trained for a few seconds on the patch images: the heat map's peak must lie in
    /// the patch for at least 90 % of new images.
    @Test func thePeakLiesInTheDecisivePatch() throws {
        Torch.manualSeed(3)
        let size = 32, patch = 6
        let body = Sequential([
            try Conv2d(3, 16, kernel: 3, padding: 1), ReLU(), try Conv2d(16, 16, kernel: 3, padding: 1), ReLU(),
        ])
        let head = Sequential([AdaptiveAvgPool2d(1), Flatten(), try Linear(16, 2)])
        let optimizer = AdamW(body.parameters + head.parameters, learningRate: 1e-2, weightDecay: 0)
        for step in 0..<150 {
            let (x, labels, _) = try Self.patchImages(count: 32, size: size, patch: patch, seed: UInt64(step))
            let loss = try Functional.crossEntropy(head(body(x)), target: Tensor(labels.map(Int64.init), shape: [32]))
            try body.zeroGrad()
            try head.zeroGrad()
            try loss.backward()
            try optimizer.step()
        }
        body.eval()
        head.eval()
        let (x, labels, corners) = try Self.patchImages(count: 60, size: size, patch: patch, seed: 10_000)
        let maps = try GradCAM.maps(input: x, features: { try body($0) }, head: { try head($0) })
        var correct = 0, inPatch = 0
        for (i, map) in maps.enumerated() {
            if map.classIndex == labels[i] { correct += 1 }
            let peak = map.values.indices.max { map.values[$0] < map.values[$1] } ?? 0
            let (px, py) = (peak % map.width, peak / map.width)
            if (corners[i].x..<(corners[i].x + patch)).contains(px),
                (corners[i].y..<(corners[i].y + patch)).contains(py)
            {
                inPatch += 1
            }
        }
        #expect(correct >= 57, "the small net learned only \(correct) of 60")
        #expect(inPatch >= 54, "the heat map's peak is in the patch for \(inPatch) of 60 images")
    }

    /// The overlay keeps the photo's size and paints hot places in the ramp's bright end.
    @Test func theOverlayColoursHotPlaces() throws {
        let grey = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 128, count: 8 * 8 * 3))
        let out = HeatMap.overlay(grey, values: [0, 0, 0, 1], width: 2, height: 2)
        #expect(out.width == 8 && out.height == 8)
        let hot = out[x: 7, y: 7], cold = out[x: 0, y: 0]
        #expect(hot.r > 200 && hot.g > 150, "hot corner \(hot)")
        #expect(cold.r < 128 && cold.b < 128 && cold.r > 80, "cold corner \(cold)")
    }
}
