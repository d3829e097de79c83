import CImageCodecs
import Foundation

/// Writes lossless 8-bit RGB PNGs (libpng's simplified API), for exact test images and exports.
public enum PNGWriter {
    public static func write(_ image: RGBImage, to url: URL) throws {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = 2  // PNG_FORMAT_RGB
        let ok = image.pixels.withUnsafeBytes { png_image_write_to_file(&png, url.path, 0, $0.baseAddress, 0, nil) }
        png_image_free(&png)
        guard ok != 0 else { throw ImageError(url, "cannot be written as PNG") }
    }

    /// The PNG file's bytes, in memory (for data URLs).
    public static func data(_ image: RGBImage) throws -> Data {
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
        // The first call (no buffer) measures; the second writes.
        guard attempt(nil, &size), size > 0 else {
            throw ImageError(URL(fileURLWithPath: "memory"), "cannot be encoded as PNG")
        }
        var out = Data(count: Int(size))
        let ok = out.withUnsafeMutableBytes { attempt($0.baseAddress, &size) }
        guard ok else { throw ImageError(URL(fileURLWithPath: "memory"), "cannot be encoded as PNG") }
        return out.prefix(Int(size))
    }
}
