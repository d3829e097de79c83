import Foundation

/// A photo's small grayscale likeness for finding its copies: 16 × 16 area-averaged luma of the whole photo and of
/// four views with 6 % cut off one side (top, bottom, left, right), each with zero mean and unit variance. A copy
/// cropped on one side by up to ~10 % resembles one of the views of the original; resizing, recompression and
/// brightness or contrast changes barely move any of them.
public struct Thumbprint: Sendable {
    /// The five views, ``side`` × ``side`` values each, one after the other (the whole photo first).
    public var values: [Float]

    public static let side = 16
    public static let viewCount = 5
    /// The share of a side the four cropped views leave out.
    public static let cut = 0.06

    public init(values: [Float]) {
        precondition(values.count == Self.viewCount * Self.side * Self.side)
        self.values = values
    }

    /// The thumbprint of `image` (any size of at least 1 × 1).
    public init(_ image: RGBImage) {
        let (w, h) = (Double(image.width), Double(image.height)), c = Self.cut
        let boxes = [(0.0, 0.0, 1.0, 1.0), (0, 0, 1, 1 - c), (0, c, 1, 1), (0, 0, 1 - c, 1), (c, 0, 1, 1)]
        var values: [Float] = []
        values.reserveCapacity(Self.viewCount * Self.side * Self.side)
        for (x0, y0, x1, y1) in boxes {
            let view = Self.areaAveragedLuma(
                image, x: Int(x0 * w)..<max(Int(x0 * w) + 1, Int(x1 * w)),
                y: Int(y0 * h)..<max(Int(y0 * h) + 1, Int(y1 * h)))
            values += Self.standardized(view)
        }
        self.values = values
    }

    /// Luma averaged over a ``side`` × ``side`` grid of the pixels in the box (each pixel counted in one cell; a
    /// box smaller than the grid repeats pixels).
    static func areaAveragedLuma(_ image: RGBImage, x: Range<Int>, y: Range<Int>) -> [Double] {
        let n = side, (bw, bh) = (x.count, y.count)
        var sums = [Double](repeating: 0, count: n * n), counts = [Double](repeating: 0, count: n * n)
        image.pixels.withUnsafeBufferPointer { p in
            for row in 0..<max(bh, n) {
                let py = y.lowerBound + row * bh / max(bh, n), cy = row * n / max(bh, n)
                for col in 0..<max(bw, n) {
                    let px = x.lowerBound + col * bw / max(bw, n), cx = col * n / max(bw, n)
                    let o = (py * image.width + px) * 3
                    sums[cy * n + cx] += 0.299 * Double(p[o]) + 0.587 * Double(p[o + 1]) + 0.114 * Double(p[o + 2])
                    counts[cy * n + cx] += 1
                }
            }
        }
        return zip(sums, counts).map { $0 / max($1, 1) }
    }

    /// Zero mean, unit variance (a flat view stays all zeros).
    static func standardized(_ values: [Double]) -> [Float] {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        let scale = variance > 1e-9 ? 1 / variance.squareRoot() : 0
        return values.map { Float(($0 - mean) * scale) }
    }
}
