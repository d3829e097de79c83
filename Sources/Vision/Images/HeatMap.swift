import Foundation

/// Draws a heat map (values 0–1 on a coarse grid) over a photo: the grid is resampled bilinearly to the photo's
/// size, coloured with a perceptual ramp (dark violet → red → yellow, like matplotlib's "inferno") and blended so
/// that cold parts show the photo almost unchanged and hot parts mostly the colour.
public enum HeatMap {
    /// `values` holds `width × height` numbers row by row.
    public static func overlay(_ image: RGBImage, values: [Float], width: Int, height: Int) -> RGBImage {
        precondition(values.count == width * height, "heat map of \(values.count) values is not \(width)×\(height)")
        var pixels = image.pixels
        for y in 0..<image.height {
            // Grid coordinates of this pixel's centre (align-corners = false), clamped to the grid.
            let gy = max(0, min(Double(height - 1), (Double(y) + 0.5) * Double(height) / Double(image.height) - 0.5))
            let y0 = Int(gy), y1 = min(y0 + 1, height - 1), fy = Float(gy - Double(y0))
            for x in 0..<image.width {
                let gx = max(0, min(Double(width - 1), (Double(x) + 0.5) * Double(width) / Double(image.width) - 0.5))
                let x0 = Int(gx), x1 = min(x0 + 1, width - 1), fx = Float(gx - Double(x0))
                let top = values[y0 * width + x0] * (1 - fx) + values[y0 * width + x1] * fx
                let bottom = values[y1 * width + x0] * (1 - fx) + values[y1 * width + x1] * fx
                let v = max(0, min(1, top * (1 - fy) + bottom * fy))
                let colour = ramp(v)
                let alpha = 0.25 + 0.5 * v
                let i = (y * image.width + x) * 3
                for c in 0..<3 {
                    let blended = Float(pixels[i + c]) * (1 - alpha) + colour[c] * alpha
                    pixels[i + c] = UInt8(max(0, min(255, blended.rounded())))
                }
            }
        }
        return RGBImage(width: image.width, height: image.height, pixels: pixels)
    }

    /// Stops of the colour ramp, evenly spaced on 0–1 (inferno, sampled).
    static let stops: [[Float]] = [
        [0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39],
        [252, 255, 164],
    ]

    /// The ramp's colour at `v` in 0–1.
    static func ramp(_ v: Float) -> [Float] {
        let position = v * Float(stops.count - 1)
        let i = min(Int(position), stops.count - 2)
        let f = position - Float(i)
        return (0..<3).map { stops[i][$0] * (1 - f) + stops[i + 1][$0] * f }
    }
}

extension HeatMap {
    /// The photo and its overlay side by side, with a white gap of `gap` pixels (the two must be the same size).
    public static func sideBySide(_ left: RGBImage, _ right: RGBImage, gap: Int = 4) -> RGBImage {
        precondition(left.width == right.width && left.height == right.height, "panels of different sizes")
        let width = left.width * 2 + gap, rowBytes = left.width * 3
        var pixels = [UInt8](repeating: 255, count: width * left.height * 3)
        for y in 0..<left.height {
            let out = y * width * 3, source = y * rowBytes
            pixels.replaceSubrange(out..<(out + rowBytes), with: left.pixels[source..<(source + rowBytes)])
            let second = out + (left.width + gap) * 3
            pixels.replaceSubrange(second..<(second + rowBytes), with: right.pixels[source..<(source + rowBytes)])
        }
        return RGBImage(width: width, height: left.height, pixels: pixels)
    }
}
