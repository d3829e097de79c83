/// The per-image step of the pipeline, in plain Swift so worker threads do not compete
/// with training for libtorch's thread pool: a square crop of the (presized) image,
/// resized bilinearly to `size`, as planar float 0–255 (C×H×W).
public struct ItemTransform: Sendable {
    public var size: Int

    public init(size: Int) { self.size = size }

    /// `random` picks the crop position along the longer side (training); nil centres it.
    public func apply(_ image: RGBImage, random: inout SeededRandom?) -> [Float] {
        let side = min(image.width, image.height)
        let slackX = image.width - side, slackY = image.height - side
        var x0 = slackX / 2, y0 = slackY / 2
        if random != nil {
            x0 = slackX > 0 ? Int(random!.next() % UInt64(slackX + 1)) : 0
            y0 = slackY > 0 ? Int(random!.next() % UInt64(slackY + 1)) : 0
        }
        return resizeCrop(image, x0: x0, y0: y0, side: side)
    }

    /// Bilinear resample of the square (x0, y0, side) to size×size (pixel centres aligned, like align_corners=false).
    func resizeCrop(_ image: RGBImage, x0: Int, y0: Int, side: Int) -> [Float] {
        let n = size
        let scale = Double(side) / Double(n)
        // Source column/row and weight for every destination column/row.
        func taps(_ offset: Int, _ limit: Int) -> (lo: [Int], hi: [Int], w: [Float]) {
            var lo = [Int](repeating: 0, count: n), hi = lo, w = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let s = max(0, (Double(i) + 0.5) * scale - 0.5)
                let f = Int(s)
                lo[i] = offset + min(f, side - 1)
                hi[i] = offset + min(f + 1, side - 1)
                w[i] = Float(s - Double(f))
            }
            return (lo, hi, w)
        }
        let xs = taps(x0, image.width), ys = taps(y0, image.height)
        var out = [Float](repeating: 0, count: 3 * n * n)
        let width = image.width
        image.pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<n {
                    let r0 = ys.lo[y] * width, r1 = ys.hi[y] * width, wy = ys.w[y]
                    for x in 0..<n {
                        let wx = xs.w[x]
                        let a = (r0 + xs.lo[x]) * 3, b = (r0 + xs.hi[x]) * 3, c = (r1 + xs.lo[x]) * 3,
                            d = (r1 + xs.hi[x]) * 3
                        for ch in 0..<3 {
                            let top = Float(p[a + ch]) * (1 - wx) + Float(p[b + ch]) * wx
                            let bottom = Float(p[c + ch]) * (1 - wx) + Float(p[d + ch]) * wx
                            o[ch * n * n + y * n + x] = top * (1 - wy) + bottom * wy
                        }
                    }
                }
            }
        }
        return out
    }
}
