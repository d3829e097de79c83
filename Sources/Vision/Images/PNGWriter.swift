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
}
