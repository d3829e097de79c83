import Foundation
import Vision

/// libFuzzer entry: the image decoders' entry point (format sniffing, JPEG and PNG headers, EXIF, the pixel
/// limit, DCT-scaled and full decodes). A decode either throws an `ImageError` or returns a well-formed image.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzImage(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: count))
    var decoder = ImageDecoder(minimumSide: count % 2 == 0 ? nil : 32)
    decoder.maxPixels = 4_000_000  // keeps each execution fast; the limit itself is part of what is fuzzed
    do {
        let image = try decoder.decode(bytes, source: URL(fileURLWithPath: "/fuzz/input"))
        precondition(image.width > 0 && image.height > 0, "empty image decoded")
        precondition(image.pixels.count == image.width * image.height * 3, "pixel buffer does not match its size")
    } catch is ImageError {
        // A clear error naming the file is the expected outcome for most inputs.
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    return 0
}
