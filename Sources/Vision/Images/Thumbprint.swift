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
        let (w, h) = (image.width, image.height), c = Self.cut
        let table = Self.integralLuma(image)
        let boxes = [(0.0, 0.0, 1.0, 1.0), (0, 0, 1, 1 - c), (0, c, 1, 1), (0, 0, 1 - c, 1), (c, 0, 1, 1)]
        var values: [Float] = []
        values.reserveCapacity(Self.viewCount * Self.side * Self.side)
        for (x0, y0, x1, y1) in boxes {
            let x = Int(x0 * Double(w))..<max(Int(x0 * Double(w)) + 1, Int(x1 * Double(w)))
            let y = Int(y0 * Double(h))..<max(Int(y0 * Double(h)) + 1, Int(y1 * Double(h)))
            values += Self.standardized(Self.cellMeans(table, width: w, x: x, y: y))
        }
        self.values = values
    }

    /// The summed-area table of the photo's luma (0.299 R + 0.587 G + 0.114 B, ×1000 as integers): entry
    /// (y, x) of the (h + 1) × (w + 1) table holds the sum over the pixels above and left of it.
    static func integralLuma(_ image: RGBImage) -> [Int] {
        let (w, h) = (image.width, image.height)
        var table = [Int](repeating: 0, count: (w + 1) * (h + 1))
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                var row = 0
                for x in 0..<w {
                    let o = (y * w + x) * 3
                    row += 299 * Int(p[o]) + 587 * Int(p[o + 1]) + 114 * Int(p[o + 2])
                    table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1] + row
                }
            }
        }
        return table
    }

    /// The mean luma of each cell of a ``side`` × ``side`` grid over the box, from the summed-area table; a box
    /// narrower than the grid gives its cells at least one pixel each.
    static func cellMeans(_ table: [Int], width w: Int, x: Range<Int>, y: Range<Int>) -> [Double] {
        let n = side
        func edges(_ range: Range<Int>) -> [Int] {
            (0...n).map { range.lowerBound + $0 * range.count / n }
        }
        let (xs, ys) = (edges(x), edges(y))
        var means = [Double](repeating: 0, count: n * n)
        for cy in 0..<n {
            let (top, bottom) = (ys[cy], max(ys[cy + 1], ys[cy] + 1))
            for cx in 0..<n {
                let (left, right) = (xs[cx], max(xs[cx + 1], xs[cx] + 1))
                let sum =
                    table[bottom * (w + 1) + right] - table[top * (w + 1) + right] - table[bottom * (w + 1) + left]
                    + table[top * (w + 1) + left]
                means[cy * n + cx] = Double(sum) / Double(1000 * (right - left) * (bottom - top))
            }
        }
        return means
    }

    /// Zero mean, unit variance (a flat view stays all zeros).
    static func standardized(_ values: [Double]) -> [Float] {
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
        let scale = variance > 1e-9 ? 1 / variance.squareRoot() : 0
        return values.map { Float(($0 - mean) * scale) }
    }
}
