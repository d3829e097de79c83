import CImageCodecs
import Foundation

/// Writes lossless 8-bit RGB PNGs (libpng's simplified API), for exact test images and exports.
public enum PNGWriter {
    public static func write(_ image: RGBImage, to url: URL) throws {
        guard let bytes = encoded(image) else { throw ImageError(url, "cannot be written as PNG") }
        do { try bytes.write(to: url) } catch {
            throw ImageError(url, "cannot be written: \(error.localizedDescription)")
        }
    }

    /// The PNG file's bytes, in memory (for data URLs).
    public static func data(_ image: RGBImage) throws -> Data {
        guard let bytes = encoded(image) else {
            throw ImageError(URL(fileURLWithPath: "memory"), "cannot be encoded as PNG")
        }
        return bytes
    }

    /// libpng's simplified API in two calls: the first (no buffer) measures, the second writes; nil if either fails.
    private static func encoded(_ image: RGBImage) -> Data? {
        func attempt(_ buffer: UnsafeMutableRawPointer?, _ size: inout png_alloc_size_t) -> Bool {
            var png = png_image()
            png.version = UInt32(PNG_IMAGE_VERSION)
            png.width = UInt32(image.width)
            png.height = UInt32(image.height)
            png.format = 2  // PNG_FORMAT_RGB
            defer { png_image_free(&png) }
            return image.pixels.withUnsafeBytes {
                png_image_write_to_memory(&png, buffer, &size, 0, $0.baseAddress, 0, nil)
            } != 0
        }
        var size: png_alloc_size_t = 0
        guard attempt(nil, &size), size > 0 else { return nil }
        var out = Data(count: Int(size))
        guard out.withUnsafeMutableBytes({ attempt($0.baseAddress, &size) }) else { return nil }
        return out.prefix(Int(size))
    }
}
