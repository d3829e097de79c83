/// How a photo of any shape becomes the model's square input (fastai's `ResizeMethod`).
public enum ResizeMethod: String, Codable, Sendable, CaseIterable {
    /// The largest centred square (in training, at a random place along the longer side): the subject must be
    /// near the centre; the edges of an oblong photo are cut away.
    case crop
    /// The whole photo stretched to a square: nothing is cut, shapes are distorted by the aspect ratio.
    case squish
    /// The whole photo, centred on black bars to a square: nothing is cut or distorted, fewer pixels for it.
    case pad
}

/// The per-image step of the pipeline, in plain Swift so worker threads do not compete
/// with training for libtorch's thread pool: the photo's square view (``ResizeMethod``) of the (presized) image,
/// resized bilinearly to `size`, as planar float 0–255 (C×H×W).
public struct ItemTransform: Sendable {
    public var size: Int
    public var method: ResizeMethod

    public init(size: Int, method: ResizeMethod = .crop) { (self.size, self.method) = (size, method) }

    /// `random` picks the crop position along the longer side (training, `crop` only); nil centres it.
    public func apply(_ image: RGBImage, random: inout SeededRandom?) -> [Float] {
        switch method {
        case .squish:
            // Bilinear taps alias in a large shrink (presize bounds only the shorter side): blocks are averaged first
            // down to between 2 and 4 times the size.
            let reduced = image.boxShrunk(byX: max(1, image.width / (2 * size)), byY: max(1, image.height / (2 * size)))
            return resample(reduced, x0: 0, y0: 0, width: reduced.width, height: reduced.height)
        case .pad:
            return resamplePadded(image.boxShrunk(by: max(1, max(image.width, image.height) / (2 * size))))
        case .crop:
            let side = min(image.width, image.height)
            let slackX = image.width - side, slackY = image.height - side
            var x0 = slackX / 2, y0 = slackY / 2
            if var generator = random {
                x0 = slackX > 0 ? Int(generator.next() % UInt64(slackX + 1)) : 0
                y0 = slackY > 0 ? Int(generator.next() % UInt64(slackY + 1)) : 0
                random = generator
            }
            return resample(image, x0: x0, y0: y0, width: side, height: side)
        }
    }

    /// Bilinear resample of `image` centred on a black square whose side is its longer side, without making that
    /// square (a 60,000 × 100 strip would need 10 GB): taps that fall on the bars read black.
    func resamplePadded(_ image: RGBImage) -> [Float] {
        let n = size, side = max(image.width, image.height)
        let left = (side - image.width) / 2, top = (side - image.height) / 2
        let scale = Double(side) / Double(n)
        // For each output column (row): the two source columns (rows) in the image, or -1 on a bar, and the weight.
        func taps(_ offset: Int, _ extent: Int) -> (lo: [Int], hi: [Int], w: [Float]) {
            var lo = [Int](repeating: -1, count: n), hi = lo, w = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let s = max(0, (Double(i) + 0.5) * scale - 0.5)
                let f = Int(s)
                let (a, b) = (min(f, side - 1) - offset, min(f + 1, side - 1) - offset)
                (lo[i], hi[i]) = ((0..<extent).contains(a) ? a : -1, (0..<extent).contains(b) ? b : -1)
                w[i] = Float(s - Double(f))
            }
            return (lo, hi, w)
        }
        let xs = taps(left, image.width), ys = taps(top, image.height)
        var out = [Float](repeating: 0, count: 3 * n * n)
        let stride = image.width
        image.pixels.withUnsafeBufferPointer { p in
            func pixel(_ row: Int, _ column: Int, _ channel: Int) -> Float {
                row < 0 || column < 0 ? 0 : Float(p[(row * stride + column) * 3 + channel])
            }
            for y in 0..<n {
                let (r0, r1, wy) = (ys.lo[y], ys.hi[y], ys.w[y])
                for x in 0..<n {
                    let (c0, c1, wx) = (xs.lo[x], xs.hi[x], xs.w[x])
                    for ch in 0..<3 {
                        let upper = pixel(r0, c0, ch) * (1 - wx) + pixel(r0, c1, ch) * wx
                        let lower = pixel(r1, c0, ch) * (1 - wx) + pixel(r1, c1, ch) * wx
                        out[ch * n * n + y * n + x] = upper * (1 - wy) + lower * wy
                    }
                }
            }
        }
        return out
    }

    /// Bilinear resample of the rectangle (x0, y0, width, height) to size×size (pixel centres aligned, like
    /// align_corners=false). Separable: each source row that an output row reads is blended along x once, for every
    /// channel, then output rows blend two of those rows along y, sixteen columns at a time. The arithmetic is the
    /// four-tap formula's, `(p00·(1−wx) + p01·wx)·(1−wy) + (p10·(1−wx) + p11·wx)·wy`, so the bits are too. A grey
    /// photo (ELPV's cells) is resampled in one channel and copied to the other two: the same bits in a third of the
    /// time (a server spent 4.7 % of its CPU here).
    func resample(_ image: RGBImage, x0: Int, y0: Int, width: Int, height: Int) -> [Float] {
        let n = size, plane = n * n
        let channels = image.isGrey ? 1 : 3
        let xs = BilinearTaps(outputs: n, offset: x0, extent: width)
        let ys = BilinearTaps(outputs: n, offset: y0, extent: height)
        // Blended rows, a channel row of n for each channel resampled, for the source rows read, numbered in the
        // order first read.
        var slot = [Int: Int](), rows: [Int] = []
        for y in 0..<n {
            for r in [ys.lo[y], ys.hi[y]] where slot[r] == nil {
                slot[r] = rows.count
                rows.append(r)
            }
        }
        var blended = [Float](repeating: 0, count: rows.count * channels * n)
        image.pixels.withUnsafeBufferPointer { p in
            blended.withUnsafeMutableBufferPointer { b in
                for (k, r) in rows.enumerated() {
                    let row = r * image.width * 3, out = k * channels * n
                    for x in 0..<n {
                        let (a, c, wx) = (row + xs.lo[x] * 3, row + xs.hi[x] * 3, xs.w[x])
                        for ch in 0..<channels {
                            b[out + ch * n + x] = Float(p[a + ch]) * (1 - wx) + Float(p[c + ch]) * wx
                        }
                    }
                }
            }
        }
        return [Float](unsafeUninitializedCapacity: 3 * plane) { o, count in
            blended.withUnsafeBufferPointer { b in
                for y in 0..<n {
                    // Every row was slotted above.
                    let top = slot[ys.lo[y]]! * channels * n, bottom = slot[ys.hi[y]]! * channels * n
                    for ch in 0..<channels {
                        Self.blend(
                            b.baseAddress! + top + ch * n, b.baseAddress! + bottom + ch * n, ys.w[y],
                            into: o.baseAddress! + ch * plane + y * n, count: n)
                    }
                }
            }
            for ch in channels..<3 { (o.baseAddress! + ch * plane).initialize(from: o.baseAddress!, count: plane) }
            count = 3 * plane
        }
    }

    /// `out[i] = top[i]·(1−w) + bottom[i]·w`, sixteen at a time (the compiler leaves the plain loop scalar).
    private static func blend(
        _ top: UnsafePointer<Float>, _ bottom: UnsafePointer<Float>, _ w: Float, into out: UnsafeMutablePointer<Float>,
        count: Int
    ) {
        let (vw, vv) = (SIMD16<Float>(repeating: w), SIMD16<Float>(repeating: 1 - w))
        let whole = count / 16 * 16
        for i in stride(from: 0, to: whole, by: 16) {
            let t = UnsafeRawPointer(top + i).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(bottom + i).loadUnaligned(as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: t * vv + b * vw, as: SIMD16<Float>.self)
        }
        for i in whole..<count { out[i] = top[i] * (1 - w) + bottom[i] * w }
    }
}

/// For each of `outputs` output columns (or rows), the two source columns it reads, `lo` and `hi`, and `hi`'s weight
/// `w`: pixel centres aligned (align_corners=false), clamped at the far edge, shifted by `offset`.
struct BilinearTaps {
    var lo: [Int], hi: [Int], w: [Float]

    init(outputs n: Int, offset: Int, extent: Int) {
        let scale = Double(extent) / Double(n)
        (lo, hi, w) = ([Int](repeating: 0, count: n), [Int](repeating: 0, count: n), [Float](repeating: 0, count: n))
        for i in 0..<n {
            let s = max(0, (Double(i) + 0.5) * scale - 0.5)
            let f = Int(s)
            lo[i] = offset + min(f, extent - 1)
            hi[i] = offset + min(f + 1, extent - 1)
            w[i] = Float(s - Double(f))
        }
    }
}
