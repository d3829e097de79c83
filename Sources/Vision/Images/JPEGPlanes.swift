import CImageCodecs
import Foundation

/// A JPEG's pixels as its own Y, Cb and Cr planes (just Y for grayscale), at the JPEG's chroma subsampling.
///
/// The presize cache shrinks JPEGs in this form: decoding to planes skips the colour conversion and
/// chroma upsampling, and encoding from planes skips the conversion and chroma downsampling back, which
/// together are a large share of the work once DCT scaling has made the entropy decoding cheap.
struct JPEGPlanes {
    var width: Int
    var height: Int
    /// A TurboJPEG `TJSAMP_*` value.
    var subsampling: Int32
    /// The planes one after another; plane `i` starts at `offsets[i]`.
    var samples: [UInt8] = []
    var offsets: [Int] = []

    var planeCount: Int { subsampling == Int32(TJSAMP_GRAY.rawValue) ? 1 : 3 }

    func planeSize(_ component: Int, width: Int, height: Int) -> (Int, Int) {
        (Int(tjPlaneWidth(Int32(component), Int32(width), subsampling)), Int(tjPlaneHeight(Int32(component), Int32(height), subsampling)))
    }

    /// Decodes `bytes` at the smallest DCT scale whose shorter side still covers `minimumSide`. Returns nil
    /// for what planes cannot express simply (CMYK, unknown subsampling, an EXIF rotation), which the RGB
    /// path handles instead.
    static func decode(_ bytes: [UInt8], minimumSide: Int, source: URL) throws -> JPEGPlanes? {
        guard EXIF.orientation(in: bytes) == 1, let handle = tjInitDecompress() else { return nil }
        defer { tjDestroy(handle) }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0 else {
            throw ImageError(source, "is not a readable JPEG (header: \(String(cString: tjGetErrorStr2(handle))))")
        }
        let plain = colorspace == Int32(TJCS_YCbCr.rawValue) || colorspace == Int32(TJCS_GRAY.rawValue)
        guard plain, (0..<Int32(TJ_NUMSAMP)).contains(subsampling) else { return nil }
        var decoder = ImageDecoder(minimumSide: minimumSide)
        decoder.fast = true
        let (w, h) = decoder.scaledSize(width: Int(width), height: Int(height))
        var image = JPEGPlanes(width: w, height: h, subsampling: subsampling)
        image.allocate()
        let rc = image.withPlanePointers { pointers in
            tjDecompressToYUVPlanes(handle, bytes, UInt(bytes.count), pointers, Int32(w), nil, Int32(h), Int32(TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE))
        }
        if rc != 0 {
            let message = String(cString: tjGetErrorStr2(handle))
            if tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) || message.contains("Premature end") {
                throw ImageError(source, "is truncated or corrupt (\(message))")
            }
        }
        return image
    }

    /// Each plane shrunk with bilinear interpolation so the image becomes `width`×`height`.
    func resized(width newWidth: Int, height newHeight: Int) -> JPEGPlanes {
        var out = JPEGPlanes(width: newWidth, height: newHeight, subsampling: subsampling)
        for component in 0..<planeCount {
            let (pw, ph) = planeSize(component, width: width, height: height)
            let (nw, nh) = planeSize(component, width: newWidth, height: newHeight)
            out.offsets.append(out.samples.count)
            out.samples += Bilinear.resize(Array(samples[offsets[component]..<(offsets[component] + pw * ph)]), width: pw, height: ph, channels: 1, toWidth: nw, toHeight: nh)
        }
        return out
    }

    /// The planes encoded as a JPEG with the same subsampling.
    func jpeg(quality: Int) throws -> Data {
        guard let handle = tjInitCompress() else { throw VisionError("cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>?
        var size: UInt = 0
        var copy = self
        let rc = copy.withPlanePointers { pointers in
            pointers.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: planeCount) {
                tjCompressFromYUVPlanes(handle, $0, Int32(width), nil, Int32(height), subsampling, &buffer, &size, Int32(quality), Int32(TJFLAG_FASTDCT))
            }
        }
        defer { if let buffer { tjFree(buffer) } }
        guard rc == 0, let buffer else { throw VisionError("JPEG encoding failed: \(String(cString: tjGetErrorStr2(handle)))") }
        return Data(bytes: buffer, count: Int(size))
    }

    /// Sizes `samples` and `offsets` for the current width, height and subsampling.
    mutating func allocate() {
        offsets = []
        var total = 0
        for component in 0..<planeCount {
            let (pw, ph) = planeSize(component, width: width, height: height)
            offsets.append(total)
            total += pw * ph
        }
        samples = [UInt8](repeating: 0, count: total)
    }

    /// Calls `body` with a C array of pointers to the planes (valid only inside `body`).
    mutating func withPlanePointers<R>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> R) -> R {
        let offsets = offsets
        return samples.withUnsafeMutableBufferPointer { storage in
            var pointers: [UnsafeMutablePointer<UInt8>?] = offsets.map { offset in storage.baseAddress.map { $0 + offset } }
            return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
        }
    }
}
