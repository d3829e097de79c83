import Foundation
import Torch

/// Random augmentation of a whole batch on tensors, as fastai v2's batch transforms:
/// one affine warp per image (flips, rotation, zoom, translation, and for top-down photos
/// 90° turns) through `affineGrid` + `gridSample`, then brightness and contrast.
public struct Augmentation: Codable, Sendable, Equatable {
    public var horizontalFlip = true
    /// Vertical flips and 90° turns: for photos taken from above (solar cells, drone images).
    public var dihedral = false
    /// Largest rotation either way, in degrees.
    public var maxRotation = 10.0
    /// Largest zoom factor (1 = none).
    public var maxZoom = 1.1
    /// Largest brightness and contrast change (0.2 = ±20 %).
    public var maxLighting = 0.2
    /// Probability of applying each of rotation, zoom and lighting to an image.
    public var probability = 0.75
    /// A fixed symmetry of the square instead of random flips (0–7: bit 0 horizontal flip, bit 1 vertical
    /// flip, bit 2 transpose); see ``symmetry(_:)``.
    public var symmetry: Int?

    public init() {}

    /// True when every view is one of the eight symmetries of the square and nothing else (the
    /// ``dihedralOnly`` preset): test-time augmentation then uses each symmetry once.
    public var isSymmetriesOnly: Bool {
        dihedral && horizontalFlip && symmetry == nil && maxLighting == 0
            && (probability == 0 || (maxRotation == 0 && maxZoom == 1))
    }

    /// The `k`-th of the eight exact symmetries of a square (flips and 90° turns) and nothing else.
    public static func symmetry(_ k: Int) -> Augmentation {
        var a = dihedralOnly
        a.symmetry = k & 7
        return a
    }

    /// The seed's "side-on" set: photos taken from the side.
    public static let sideOn = Augmentation()

    /// "Top-down": adds vertical flips and 90° turns.
    public static var topDown: Augmentation {
        var a = Augmentation()
        a.dihedral = true
        return a
    }

    /// "Dihedral": only the eight flips and quarter turns of the square, no rotation, zoom or lighting.
    /// For aligned top-down images whose brightness, borders and scale are evidence: in ELPV's
    /// electroluminescence images defective cells are darker on average and cracks often touch the
    /// border, which lighting changes and zoom crops would hide.
    public static var dihedralOnly: Augmentation {
        var a = topDown
        a.maxRotation = 0
        a.maxZoom = 1
        a.maxLighting = 0
        return a
    }

    /// The `k`-th symmetry of ``symmetry(_:)`` applied to an N×C×H×W batch by moving its pixels (flips, a transpose)
    /// instead of resampling them: the images `Augmentation.symmetry(k).apply` makes, up to the resampler's rounding.
    /// Test-time augmentation builds each batch once and takes its symmetries this way. The batch must be square when
    /// `k` includes the transpose (bit 2); the result keeps the batch's memory format.
    public static func applySymmetry(_ k: Int, to batch: Tensor) throws -> Tensor {
        // ``draw(count:random:)`` maps output (x, y) to input (±x, ±y), the signs from bits 0 and 1, and bit 2 swaps
        // the axes: output (x, y) then reads input (±y, ±x), so after the transpose bit 0 flips rows, bit 1 columns.
        let k = k & 7
        let swapped = k & 4 != 0
        guard !swapped || batch.shape[2] == batch.shape[3] else {
            throw VisionError(
                "symmetry \(k) transposes: it needs square images, not \(batch.shape[3])×\(batch.shape[2])")
        }
        let flips: [Int] = (k & 1 != 0 ? [swapped ? 2 : 3] : []) + (k & 2 != 0 ? [swapped ? 3 : 2] : [])
        let moved = swapped ? try batch.transposed(2, 3) : batch
        let format: MemoryFormat = batch.isContiguous(.channelsLast) ? .channelsLast : .contiguous
        return try (flips.isEmpty ? moved : moved.flipped(flips)).contiguous(format)
    }

    /// The k whose ``symmetry(_:)`` draws exactly `matrix` (a, b, tx, c, d, ty, output to input), or nil when
    /// `matrix` also rotates, zooms or shifts.
    public static func symmetryIndex(_ matrix: [Float]) -> Int? { symmetryMatrices.firstIndex(of: matrix) }

    /// The matrix each of the eight ``symmetry(_:)`` presets draws, by k: drawn once, since a symmetry's draw takes
    /// nothing from the generator that changes it.
    static let symmetryMatrices: [[Float]] = (0..<8).map { k in
        var random = SeededRandom(seed: 0)
        return symmetry(k).draw(count: 1, random: &random).theta
    }

    /// The presets, by the names the command line and config files use.
    public enum Preset: String, CaseIterable, Codable, Sendable {
        case sideOn = "side-on"
        case topDown = "top-down"
        case dihedral
    }

    /// The presets' names.
    public static let presetNames = Preset.allCases.map(\.rawValue)

    /// The preset called `name` (one of ``presetNames``), or nil.
    public init?(preset name: String) {
        switch Preset(rawValue: name) {
        case .sideOn: self = .sideOn
        case .topDown: self = .topDown
        case .dihedral: self = .dihedralOnly
        case nil: return nil
        }
    }

    /// The 2×3 matrices (output → input, normalised coordinates) and lighting factors for `count` images.
    public func draw(count: Int, random: inout SeededRandom) -> (theta: [Float], contrast: [Float], brightness: [Float])
    {
        var theta: [Float] = [], contrast: [Float] = [], brightness: [Float] = []
        for _ in 0..<count {
            var a = 1.0, b = 0.0, c = 0.0, d = 1.0  // [[a b] [c d]]
            if let k = symmetry {
                if k & 1 != 0 {
                    a = -a
                    c = -c
                }
                if k & 2 != 0 {
                    b = -b
                    d = -d
                }
                if k & 4 != 0 { (a, b, c, d) = (b, a, d, c) }
            } else if horizontalFlip, random.unit() < 0.5 {
                a = -a
                c = -c
            }
            if dihedral, symmetry == nil {
                if random.unit() < 0.5 {
                    b = -b
                    d = -d
                }  // vertical flip
                if random.unit() < 0.5 { (a, b, c, d) = (b, a, d, c) }  // transpose: with the flips, all 8 turns
            }
            if random.unit() < probability {
                let angle = random.uniform(-maxRotation...maxRotation) * .pi / 180
                let (cs, sn) = (cos(angle), sin(angle))
                (a, b, c, d) = (cs * a - sn * c, cs * b - sn * d, sn * a + cs * c, sn * b + cs * d)
            }
            var tx = 0.0, ty = 0.0
            if random.unit() < probability {
                let zoom = random.uniform(1...maxZoom)
                (a, b, c, d) = (a / zoom, b / zoom, c / zoom, d / zoom)
                let room = 1 - 1 / zoom
                tx = random.uniform(-room...room)
                ty = random.uniform(-room...room)
            }
            theta += [a, b, tx, c, d, ty].map { Float($0) }
            if random.unit() < probability {
                let lift = random.uniform(-maxLighting...maxLighting)
                let contrastLog = random.uniform(log(1 - maxLighting)...(-log(1 - maxLighting)))
                contrast.append(Float(exp(contrastLog)))
                brightness.append(Float(lift * 255))
            } else {
                contrast.append(1)
                brightness.append(0)
            }
        }
        return (theta, contrast, brightness)
    }

    /// Augments an N×3×H×W float batch of 0–255 pixels.
    public func apply(_ batch: Tensor, random: inout SeededRandom) throws -> Tensor {
        let n = batch.shape[0]
        let (theta, contrast, brightness) = draw(count: n, random: &random)
        if contrast.allSatisfy({ $0 == 1 }), brightness.allSatisfy({ $0 == 0 }), batch.shape[2] == batch.shape[3] {
            // Only symmetries drawn (the dihedral preset, TTA's fixed views): the pixels are moved rather than
            // resampled, the same images up to the resampler's rounding in about a seventh of the time.
            let symmetries = (0..<n).map { Self.symmetryIndex(Array(theta[(6 * $0)..<(6 * $0 + 6)])) }
            if symmetries.allSatisfy({ $0 != nil }) {
                return try Tensor.cat(
                    symmetries.enumerated().map { i, k in
                        try Self.applySymmetry(k ?? 0, to: batch.narrowed(dim: 0, i..<(i + 1)))
                    })
            }
        }
        return try Self.resampled(batch, theta: theta, contrast: contrast, brightness: brightness)
    }

    /// `batch` warped by the 2×3 matrices `theta` (bilinear, reflected at the borders), then its contrast and
    /// brightness changed by each image's factors: what ``apply(_:random:)`` does with any draw.
    public static func resampled(
        _ batch: Tensor, theta: [Float], contrast: [Float], brightness: [Float]
    ) throws -> Tensor {
        let n = batch.shape[0]
        let grid = try Functional.affineGrid(Tensor(theta, shape: [n, 2, 3]), size: batch.shape)
        let warped = try Functional.gridSample(batch, grid: grid, padding: .reflection)
        let c = try Tensor(contrast, shape: [n, 1, 1, 1]), b = try Tensor(brightness, shape: [n, 1, 1, 1])
        return try ((warped - 127.5) * c + 127.5 + b).clamp(0, 255)
    }
}
