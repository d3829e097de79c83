import Foundation
import NN
import Testing
import Torch
import Vision

/// Helpers shared by the test targets.
/// A failed check inside a helper that returns a value, thrown so the test that called it fails with the message.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum Fixtures {
    /// The repository's Tests/Fixtures folder.
    public static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }

    /// Tensors of a fixture safetensors file.
    public static func tensors(_ name: String) throws -> [String: Tensor] {
        try Safetensors.read(url(name)).tensors
    }

    /// The set-up cache (QUADRAT_HOME, default ~/.cache/quadrat).
    public static var cacheHome: URL {
        if let home = ProcessInfo.processInfo.environment["QUADRAT_HOME"] { return URL(fileURLWithPath: home) }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/quadrat")
    }

    /// Whether set-up fetched the EfficientNet-Lite0 ImageNet weights; tests that need them are skipped
    /// (with this reason) when it did not.
    public static var hasPretrainedWeights: Bool {
        FileManager.default.fileExists(
            atPath: cacheHome.appendingPathComponent("weights/efficientnet-lite0-57934424.pth").path)
    }

    /// Why tests that need pretrained weights were skipped.
    public static let needsWeights: Comment =
        "needs the EfficientNet-Lite ImageNet weights: run scripts/setup.sh weights"

    /// A `QUADRAT_HOME` of its own for the tests' runs (presize and feature caches), with the set-up
    /// cache's weights and samples linked in, so tests never write into the user's cache.
    public static let isolatedHome: URL = {
        let home = temporaryRoot.appendingPathComponent("home")
        do {
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
            for name in ["weights", "samples"] {
                try FileManager.default.createSymbolicLink(
                    at: home.appendingPathComponent(name),
                    withDestinationURL: cacheHome.appendingPathComponent(name))
            }
        } catch {
            fatalError("cannot make a temporary QUADRAT_HOME at \(home.path): \(error)")
        }
        return home
    }()

    /// A new empty temporary folder (under ``temporaryRoot``).
    public static func temporaryFolder() throws -> URL {
        let url = temporaryRoot.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The folder this test process's temporary folders (``temporaryFolder()``, ``isolatedHome``) go under, removed
    /// with them when the process exits: a run of the suite left about a hundred folders, up to 217 MB each, in the
    /// system's temporary folder.
    public static let temporaryRoot: URL = {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("quadrat-tests-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        } catch {
            fatalError("cannot make the tests' temporary folder \(root.path): \(error)")
        }
        atexit { Fixtures.removeTemporaryRoot() }
        return root
    }()

    /// Removes ``temporaryRoot``: first the isolated home's links into the set-up cache (so that nothing is removed
    /// through them), then the rest.
    static func removeTemporaryRoot() {
        let files = FileManager.default
        let home = temporaryRoot.appendingPathComponent("home")
        // At exit, a folder that cannot be removed stays behind; there is no test left to report it to.
        for name in ["weights", "samples"] { try? files.removeItem(at: home.appendingPathComponent(name)) }
        try? files.removeItem(at: temporaryRoot)
    }
}

/// Largest absolute element-wise difference of two tensors of the same shape.
public func maxAbsDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
    guard a.shape == b.shape else { throw TorchError("shapes differ: \(a.shape) vs \(b.shape)") }
    return try (a.to(.float64) - b.to(.float64)).abs().max().item()
}

/// Compares autograd's gradient of `f` with respect to each input against central finite differences.
///
/// `f` must map the (float64) inputs to a tensor; the scalar differentiated is the sum of
/// its output weighted by fixed random numbers, so every output element matters.
/// Returns the largest absolute difference over all inputs and elements.
public func gradientError(
    inputs: [Tensor], epsilon: Double = 1e-6, _ f: @escaping ([Tensor]) throws -> Tensor
) throws -> Double {
    for x in inputs { try x.requiringGrad(true) }
    let probe = try f(inputs)
    let weights = try Tensor.randn(probe.shape, dtype: .float64)
    let objective = { (xs: [Tensor]) throws -> Tensor in try (f(xs) * weights).sum() }
    try objective(inputs).backward()
    var worst = 0.0
    for (k, x) in inputs.enumerated() {
        let analytic = try (x.grad ?? Tensor.zeros(x.shape, dtype: .float64)).flattened().toArray(Double.self)
        let values = try x.detached().flattened().toArray(Double.self)
        for i in values.indices {
            func evaluate(_ delta: Double) throws -> Double {
                var shifted = values
                shifted[i] += delta
                var xs = try inputs.map { try $0.detached() }
                xs[k] = try Tensor(shifted, shape: x.shape)
                return try Torch.withoutGrad { try objective(xs).item() }
            }
            let numeric = (try evaluate(epsilon) - evaluate(-epsilon)) / (2 * epsilon)
            worst = max(worst, abs(numeric - analytic[i]))
        }
    }
    return worst
}

/// The input the backbone fixtures use: x[n,c,h,w] = 1.5 sin(0.05 h (c+1) + 0.03 w + 0.7 n), float32.
public func patternInput(batch: Int, size: Int) throws -> Tensor {
    let n = try Tensor.arange(0, Double(batch), dtype: .float64).reshaped([-1, 1, 1, 1])
    let c = try Tensor.arange(0, 3, dtype: .float64).reshaped([1, -1, 1, 1])
    let h = try Tensor.arange(0, Double(size), dtype: .float64).reshaped([1, 1, -1, 1])
    let w = try Tensor.arange(0, Double(size), dtype: .float64).reshaped([1, 1, 1, -1])
    return try ((h * 0.05 * (c + 1) + w * 0.03 + n * 0.7).sin() * 1.5).to(.float32)
}

/// A small Kaggle-layout data set of generated JPEGs: `train/1.jpg …`, `train_labels.csv` (`name,invasive`),
/// `test/` with `testCount` images. Class 1 images are bright with a dark square, class 0 dark with a bright one,
/// so a model can learn them in a few steps.
/// `unlisted` more training images exist on disk without a CSV row (numbered after the listed ones).
public func makeKaggleDataSet(
    trainCount: Int = 24, testCount: Int = 6, size: Int = 48, unlisted: Int = 0, extraRows: [String] = []
) throws -> URL {
    let root = try Fixtures.temporaryFolder()
    let fm = FileManager.default
    try fm.createDirectory(at: root.appendingPathComponent("train"), withIntermediateDirectories: true)
    try fm.createDirectory(at: root.appendingPathComponent("test"), withIntermediateDirectories: true)
    var csv = "name,invasive\n"
    var rng = SeededRandom(seed: 7)
    func image(label: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        let (back, square): (UInt8, UInt8) = label == 1 ? (200, 30) : (40, 220)
        let x0 = Int(rng.next() % UInt64(size / 2)), y0 = Int(rng.next() % UInt64(size / 2))
        for y in 0..<size {
            for x in 0..<size {
                let inside = x >= x0 && x < x0 + size / 3 && y >= y0 && y < y0 + size / 3
                let noise = UInt8(rng.next() % 20)
                for c in 0..<3 { pixels[(y * size + x) * 3 + c] = (inside ? square : back) &+ noise }
            }
        }
        return RGBImage(width: size, height: size + 0, pixels: pixels)
    }
    for i in 1...trainCount {
        let label = i % 2
        try ImageEncoder.jpeg(image(label: label)).write(to: root.appendingPathComponent("train/\(i).jpg"))
        csv += "\(i),\(label)\n"
    }
    for i in stride(from: trainCount + 1, through: trainCount + unlisted, by: 1) {
        try ImageEncoder.jpeg(image(label: 0)).write(to: root.appendingPathComponent("train/\(i).jpg"))
    }
    for i in 1...max(1, testCount) {
        try ImageEncoder.jpeg(image(label: i % 2)).write(to: root.appendingPathComponent("test/\(i).jpg"))
    }
    csv += extraRows.map { $0 + "\n" }.joined()
    try csv.write(to: root.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
    return root
}

/// A small multi-label Kaggle-layout set of generated JPEGs: each photo may be `bright` (a light background) and may
/// have a `square` (a contrasting square), both, or neither; `train_labels.csv` lists them space-separated in a
/// `tags` column, and `test/` has `test_labels.csv` the same way. Photo i is bright when i is odd and has a square
/// when i % 4 < 2.
public func makeMultiLabelDataSet(trainCount: Int = 32, testCount: Int = 8, size: Int = 48) throws -> URL {
    let root = try Fixtures.temporaryFolder()
    var rng = SeededRandom(seed: 11)
    func image(bright: Bool, square: Bool) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        let back: UInt8 = bright ? 200 : 50
        let x0 = Int(rng.next() % UInt64(size / 2)), y0 = Int(rng.next() % UInt64(size / 2))
        for y in 0..<size {
            for x in 0..<size {
                let inside = square && x >= x0 && x < x0 + size / 3 && y >= y0 && y < y0 + size / 3
                let noise = UInt8(rng.next() % 20)
                for c in 0..<3 { pixels[(y * size + x) * 3 + c] = (inside ? 255 - back : back) &+ noise }
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }
    for (folder, csvName, count) in [("train", "train_labels.csv", trainCount), ("test", "test_labels.csv", testCount)]
    {
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        var csv = "name,tags\n"
        for i in 1...count {
            let (bright, square) = (i % 2 == 1, i % 4 < 2)
            try ImageEncoder.jpeg(image(bright: bright, square: square))
                .write(to: root.appendingPathComponent("\(folder)/\(i).jpg"))
            csv +=
                "\(i),\([bright ? "bright" : nil, square ? "square" : nil].compactMap { $0 }.joined(separator: " "))\n"
        }
        try csv.write(to: root.appendingPathComponent(csvName), atomically: true, encoding: .utf8)
    }
    return root
}
