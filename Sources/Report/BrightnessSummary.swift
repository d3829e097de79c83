import Foundation
import Vision

/// Mean brightness of each class's images, for `quadrat explore`. When the classes differ in
/// brightness (electroluminescence photos of solar cells: defective cells are darker), brightness is
/// evidence, and lighting augmentation blurs it; this is how a user finds out before training.
public struct BrightnessSummary: Sendable {
    /// Per class: images measured, mean and standard deviation of their mean luma (0–255).
    public var counts: [Int]
    public var means: [Double]
    public var deviations: [Double]

    /// Measures up to `perClass` images of each class (a seeded sample), decoded small.
    /// Unreadable images are left out (`quadrat check` lists them).
    public static func measure(_ dataset: ImageDataset, perClass: Int = 300, seed: UInt64 = 0) -> BrightnessSummary {
        var random = SeededRandom(seed: seed)
        var values = [[Double]](repeating: [], count: dataset.classes.count)
        var byClass: [Int: [Int]] = [:]
        for (i, item) in dataset.items.enumerated() {
            if let label = item.label { byClass[label, default: []].append(i) }
        }
        var decoder = ImageDecoder(minimumSide: 64)
        decoder.fast = true
        // Classes in order, so the seeded sample is the same on every run.
        for (label, indices) in byClass.sorted(by: { $0.key < $1.key }) where label < values.count {
            for i in indices.shuffled(using: &random).prefix(perClass) {
                // Deliberately skipped: a summary of the readable images; `quadrat check` reports the others.
                if let image = try? decoder.decode(dataset.items[i].url) { values[label].append(meanLuma(image)) }
            }
        }
        let means = values.map { $0.isEmpty ? 0 : $0.reduce(0, +) / Double($0.count) }
        let deviations = zip(values, means).map { v, m in
            v.count < 2 ? 0 : (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot()
        }
        return BrightnessSummary(counts: values.map(\.count), means: means, deviations: deviations)
    }

    /// Rec. 601 luma averaged over the image.
    public static func meanLuma(_ image: RGBImage) -> Double {
        var sum = 0.0
        image.pixels.withUnsafeBufferPointer { p in
            var i = 0
            while i + 2 < p.count {
                sum += 0.299 * Double(p[i]) + 0.587 * Double(p[i + 1]) + 0.114 * Double(p[i + 2])
                i += 3
            }
        }
        return sum / Double(max(1, image.width * image.height))
    }

    /// The two classes whose mean brightness differs most, in pooled standard deviations (Cohen's d);
    /// nil with fewer than two measured classes.
    public var largestDifference: (first: Int, second: Int, effect: Double)? {
        var best: (Int, Int, Double)?
        for a in counts.indices where counts[a] > 1 {
            for b in counts.indices where b > a && counts[b] > 1 {
                let pooled =
                    ((Double(counts[a] - 1) * deviations[a] * deviations[a] + Double(counts[b] - 1) * deviations[b]
                    * deviations[b])
                    / Double(counts[a] + counts[b] - 2)).squareRoot()
                let effect = abs(means[a] - means[b]) / max(pooled, 1e-9)
                if effect > (best?.2 ?? -1) { best = (a, b, effect) }
            }
        }
        return best.map { (first: $0.0, second: $0.1, effect: $0.2) }
    }

    /// Above this effect size (a "medium" difference), brightness tells the classes apart on its own.
    public static let notableEffect = 0.5

    /// Advice when two classes differ notably in brightness, else nil.
    public func hint(classes: [String]) -> String? {
        guard let d = largestDifference, d.effect >= Self.notableEffect, d.second < classes.count else { return nil }
        return String(
            format:
                "classes %@ and %@ differ in brightness by %.1f standard deviations, so brightness is evidence here;",
            classes[d.first], classes[d.second], d.effect)
            + " lighting augmentation blurs it: consider `quadrat train --max-lighting 0` (or `--augmentation dihedral` for aligned top-down images)"
    }
}
