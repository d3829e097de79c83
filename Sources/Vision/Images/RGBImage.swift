import Foundation
import Torch

/// An 8-bit RGB image, pixels interleaved row by row.
public struct RGBImage: Sendable {
    public let width: Int
    public let height: Int
    public let pixels: [UInt8]
    /// Grey by how it was made (a decoder that read one channel and copied it to three), so ``isGrey`` need not look.
    let greyByConstruction: Bool

    /// `grey`: the caller made every pixel's red, green and blue equal (a one-channel source); false does not say
    /// the opposite, ``isGrey`` then looks.
    public init(width: Int, height: Int, pixels: [UInt8], grey: Bool = false) {
        precondition(pixels.count == width * height * 3, "RGB buffer size does not match \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
        greyByConstruction = grey
    }

    /// For each of three 16-byte runs of RGB bytes: 0xFF where the next byte is in the same pixel, else 0.
    private static let sameFollows = (0..<3).map { j in
        SIMD16<UInt8>((0..<16).map { (16 * j + $0) % 3 == 2 ? 0 : 0xFF })
    }

    /// Whether every pixel's red, green and blue are equal (a greyscale photo decoded to RGB).
    public var isGrey: Bool {
        if greyByConstruction { return true }
        return pixels.withUnsafeBytes { p in
            // 48 bytes (16 pixels) at a time: each byte against the next, where the next is in the same pixel
            // (red against green, green against blue: `sameFollows`).
            var i = 0
            while i + 49 <= p.count {
                for j in 0..<3 {
                    let a = p.loadUnaligned(fromByteOffset: i + 16 * j, as: SIMD16<UInt8>.self)
                    let b = p.loadUnaligned(fromByteOffset: i + 16 * j + 1, as: SIMD16<UInt8>.self)
                    guard ((a ^ b) & Self.sameFollows[j]) == .zero else { return false }
                }
                i += 48
            }
            while i < p.count {
                guard p[i] == p[i + 1], p[i] == p[i + 2] else { return false }
                i += 3
            }
            return true
        }
    }

    /// A 3×H×W float32 tensor of 0–255 values.
    public func tensor() throws -> Tensor {
        try pixels.withUnsafeBytes { raw in
            try Tensor.copying(bytes: raw, dtype: .uint8, shape: [3, height, width], strides: [1, width * 3, 3])
        }.to(.float32)
    }

    /// The image from a 3×H×W tensor of 0–255 values (rounded and clamped).
    public init(tensor: Tensor) throws {
        let s = tensor.shape
        guard s.count == 3, s[0] == 3 else { throw VisionError("expected a 3×H×W tensor, got \(s)") }
        let hwc = try tensor.rounded().clamp(0, 255).to(.uint8).permuted([1, 2, 0]).contiguous()
        self.init(width: s[2], height: s[1], pixels: try hwc.toArray(UInt8.self))
    }

    /// The image averaged over `k` × `k` blocks (the last partial row and column of blocks dropped).
    public func boxShrunk(by k: Int) -> RGBImage { boxShrunk(byX: k, byY: k) }

    /// The image averaged over `kx` × `ky` blocks (the last partial row and column of blocks dropped).
    public func boxShrunk(byX kx: Int, byY ky: Int) -> RGBImage {
        let w = width / max(1, kx), h = height / max(1, ky)
        guard kx * ky > 1, w > 0, h > 0 else { return self }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        var sums = [UInt32](repeating: 0, count: w * 3)
        let area = UInt32(kx * ky)
        pixels.withUnsafeBufferPointer { p in
            for by in 0..<h {
                for i in sums.indices { sums[i] = 0 }
                for y in (by * ky)..<(by * ky + ky) {
                    let row = y * width * 3
                    for x in 0..<(w * kx) {
                        let bx = x / kx
                        for c in 0..<3 { sums[bx * 3 + c] += UInt32(p[row + x * 3 + c]) }
                    }
                }
                for i in sums.indices { out[by * w * 3 + i] = UInt8((sums[i] + area / 2) / area) }
            }
        }
        // Equal channels average to equal channels.
        return RGBImage(width: w, height: h, pixels: out, grey: greyByConstruction)
    }

    /// The pixel at (x, y).
    public subscript(x x: Int, y y: Int) -> (r: UInt8, g: UInt8, b: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Applies an EXIF orientation (1–8) so the image comes out upright.
    public func oriented(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return self }
        let transposed = orientation >= 5
        let w = transposed ? height : width, h = transposed ? width : height
        var out = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<h {
            for x in 0..<w {
                // Source coordinates for destination (x, y), per the EXIF definition.
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)
                }
                let d = (y * w + x) * 3, s = (sy * width + sx) * 3
                out[d] = pixels[s]
                out[d + 1] = pixels[s + 1]
                out[d + 2] = pixels[s + 2]
            }
        }
        return RGBImage(width: w, height: h, pixels: out, grey: greyByConstruction)
    }
}

extension RGBImage {
    /// Bilinear resize in plain Swift (pixel centres aligned). Without a low-pass filter it is only
    /// right for mild shrinking (scale ≥ 0.5); stronger shrinking goes through `Resize.shorterSide`.
    public func resizedBilinear(width newWidth: Int, height newHeight: Int) -> RGBImage {
        func taps(_ from: Int, _ to: Int) -> (lo: [Int], hi: [Int], w: [Int]) {
            let scale = Double(from) / Double(to)
            var lo = [Int](repeating: 0, count: to), hi = lo, w = lo
            for i in 0..<to {
                let s = max(0, (Double(i) + 0.5) * scale - 0.5)
                let f = min(Int(s), from - 1)
                lo[i] = f
                hi[i] = min(f + 1, from - 1)
                w[i] = Int((s - Double(f)) * 256)  // 8-bit fixed-point weight
            }
            return (lo, hi, w)
        }
        let xs = taps(width, newWidth), ys = taps(height, newHeight)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * 3)
        pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<newHeight {
                    let r0 = ys.lo[y] * width * 3, r1 = ys.hi[y] * width * 3, wy = ys.w[y]
                    for x in 0..<newWidth {
                        let a = xs.lo[x] * 3, b = xs.hi[x] * 3, wx = xs.w[x]
                        for c in 0..<3 {
                            let top = Int(p[r0 + a + c]) * (256 - wx) + Int(p[r0 + b + c]) * wx
                            let bottom = Int(p[r1 + a + c]) * (256 - wx) + Int(p[r1 + b + c]) * wx
                            o[(y * newWidth + x) * 3 + c] = UInt8((top * (256 - wy) + bottom * wy + 32768) >> 16)
                        }
                    }
                }
            }
        }
        return RGBImage(width: newWidth, height: newHeight, pixels: out)
    }
}
