import CImageCodecs
import Foundation

/// Writes RGB images as JPEG (libjpeg-turbo), for the presize cache and report thumbnails.
public enum ImageEncoder {
    /// `chromaSubsampling` halves the colour resolution (4:2:0): smaller and faster, fine for photos.
    ///
    /// A grey image (every pixel's red, green and blue equal) is written as a one-component JPEG: it decodes to the
    /// same RGB pixels as the colour JPEG would (libjpeg-turbo's fixed-point luminance of r = g = b is r, and
    /// chrominance 128 adds nothing back), in about half the time and space.
    public static func jpeg(_ image: RGBImage, quality: Int = 92, chromaSubsampling: Bool = false) throws -> Data {
        try jpeg(
            image, quality: quality, sampling: image.isGrey ? TJSAMP_GRAY : chromaSubsampling ? TJSAMP_420 : TJSAMP_444)
    }

    static func jpeg(_ image: RGBImage, quality: Int, sampling: TJSAMP) throws -> Data {
        guard let handle = tjInitCompress() else { throw VisionError("cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        let rc = image.pixels.withUnsafeBufferPointer {
            tjCompress2(
                handle, $0.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                &buffer, &size, Int32(sampling.rawValue), Int32(quality), 0)
        }
        defer { if let buffer { tjFree(buffer) } }
        guard rc == 0, let buffer else {
            throw VisionError("JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))")
        }
        return Data(bytes: buffer, count: Int(size))
    }
}

extension ImageDecoder {
    /// Width and height from the file header, without decoding the pixels (EXIF rotation not applied).
    public static func size(of url: URL) throws -> (width: Int, height: Int) {
        let bytes: [UInt8]
        bytes = try FileBytes.read(url)  // a FIFO or a device is refused, not waited on
        switch format(of: bytes) {
        case .jpeg:
            guard let handle = tjInitDecompress() else { throw ImageError(url, "cannot start the JPEG decoder") }
            defer { tjDestroy(handle) }
            var w: Int32 = 0, h: Int32 = 0, s: Int32 = 0, c: Int32 = 0
            guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &w, &h, &s, &c) == 0 else {
                throw ImageError(url, "has an unreadable JPEG header")
            }
            return (Int(w), Int(h))
        case .png:
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0
            else {
                throw ImageError(url, "has an unreadable PNG header")
            }
            return (Int(image.width), Int(image.height))
        case nil:
            throw ImageError(url, "is not a JPEG or PNG image")
        }
    }
}
