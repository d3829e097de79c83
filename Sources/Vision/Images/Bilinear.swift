/// Bilinear resampling of 8-bit interleaved images in plain Swift, pixel centres aligned, with
/// 8-bit fixed-point weights. Without a low-pass filter it is only right for mild shrinking (scale ≥ 0.5).
enum Bilinear {
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int, toWidth newWidth: Int, toHeight newHeight: Int) -> [UInt8] {
        let xs = taps(width, newWidth), ys = taps(height, newHeight)
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        pixels.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<newHeight {
                    let r0 = ys.lo[y] * width * channels, r1 = ys.hi[y] * width * channels, wy = ys.w[y]
                    for x in 0..<newWidth {
                        let a = xs.lo[x] * channels, b = xs.hi[x] * channels, wx = xs.w[x]
                        for c in 0..<channels {
                            let top = Int(p[r0 + a + c]) * (256 - wx) + Int(p[r0 + b + c]) * wx
                            let bottom = Int(p[r1 + a + c]) * (256 - wx) + Int(p[r1 + b + c]) * wx
                            o[(y * newWidth + x) * channels + c] = UInt8((top * (256 - wy) + bottom * wy + 32768) >> 16)
                        }
                    }
                }
            }
        }
        return out
    }

    /// For each output index: the two source indices and the weight of the second (0–256).
    private static func taps(_ from: Int, _ to: Int) -> (lo: [Int], hi: [Int], w: [Int]) {
        let scale = Double(from) / Double(to)
        var lo = [Int](repeating: 0, count: to), hi = lo, w = lo
        for i in 0..<to {
            let s = max(0, (Double(i) + 0.5) * scale - 0.5)
            let f = min(Int(s), from - 1)
            lo[i] = f
            hi[i] = min(f + 1, from - 1)
            w[i] = Int((s - Double(f)) * 256)
        }
        return (lo, hi, w)
    }
}
