import CImageCodecs
import Foundation
import Torch

/// Decodes JPEG (libjpeg-turbo) and PNG (libpng) files to RGB.
///
/// The format comes from the file's first bytes, not its extension. JPEGs are decoded
/// at the smallest DCT scale (1/8 … 1) whose shorter side still covers `minimumSide`,
/// which makes decoding big photos for a small model several times faster; grayscale
/// and CMYK JPEGs come out as RGB and EXIF orientation is applied. PNGs of any kind
/// (gray, gray+alpha, palette, 16-bit, RGBA) come out as RGB, alpha composited on `background`.
public struct ImageDecoder: Sendable {
    /// Decode at least this many pixels on the shorter side when scaling is possible (nil: full size).
    public var minimumSide: Int?
    /// Faster, slightly less exact JPEG decoding (libjpeg-turbo's fast DCT and upsampling), for the presize cache.
    public var fast = false
    /// Colour that transparent PNG pixels are composited on.
    public var background: (r: UInt8, g: UInt8, b: UInt8) = (255, 255, 255)
    /// Images with more pixels than this are refused from their header, before any pixel buffer exists (a
    /// 389 KB PNG can declare 20000 × 20000 pixels). Starts at the process-wide ``pixelLimit``.
    public var maxPixels = ImageDecoder.pixelLimit
    /// 100 megapixels covers real camera and drone photos.
    public static let defaultMaxPixels = 100_000_000

    private static let sharedLimit = Locked(defaultMaxPixels)
    /// The pixel limit every decoder made from now on starts with (the CLI's `--max-pixels` sets it).
    public static var pixelLimit: Int {
        get { sharedLimit.withLock { $0 } }
        set { sharedLimit.withLock { $0 = newValue } }
    }

    public init(minimumSide: Int? = nil) { self.minimumSide = minimumSide }

    /// The file formats Quadrat decodes, told apart by their magic bytes.
    public enum Format: String, Sendable { case jpeg, png }

    /// The format named by the magic bytes, or nil.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        if bytes.count >= 8, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        return nil
    }

    public func decode(_ url: URL) throws -> RGBImage {
        try decode(FileBytes.read(url), source: url)
    }

    public func decode(_ bytes: [UInt8], source: URL) throws -> RGBImage {
        guard !bytes.isEmpty else { throw ImageError(source, "is empty (0 bytes)") }
        switch Self.format(of: bytes) {
        case .jpeg: return try decodeJPEG(bytes, source: source)
        case .png: return try decodePNG(bytes, source: source)
        case nil:
            let head = bytes.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw ImageError(source, "is not a JPEG or PNG image (it starts with bytes \(head))")
        }
    }

    /// Refuses an image above ``maxPixels`` (from its header: nothing is allocated yet).
    func checkPixels(_ width: Int, _ height: Int, source: URL) throws {
        let pixels = width.multipliedReportingOverflow(by: height)
        guard !pixels.overflow, pixels.partialValue <= maxPixels else {
            throw ImageError(
                source,
                String(
                    format:
                        "is %d × %d pixels (%.0f megapixels), above the limit of %.0f megapixels (--max-pixels raises it)",
                    width, height, Double(width) * Double(height) / 1e6, Double(maxPixels) / 1e6))
        }
    }

    // MARK: JPEG

    func decodeJPEG(_ bytes: [UInt8], source: URL) throws -> RGBImage {
        guard let handle = tjInitDecompress() else { throw ImageError(source, "cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        func failure(_ stage: String) -> ImageError {
            ImageError(source, "is not a readable JPEG (\(stage): \(String(cString: tjGetErrorStr2(handle))))")
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        guard tjDecompressHeader3(handle, bytes, UInt(bytes.count), &width, &height, &subsampling, &colorspace) == 0
        else {
            throw failure("header")
        }
        // A header without a frame (no SOF segment) reports 0 × 0 instead of failing.
        guard width > 0, height > 0 else { throw ImageError(source, "is not a readable JPEG (it has no image frame)") }
        try checkPixels(Int(width), Int(height), source: source)
        let (w, h) = scaledSize(width: Int(width), height: Int(height))
        let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
        let channels = cmyk ? 4 : 3
        var buffer = [UInt8](repeating: 0, count: w * h * channels)
        let format = cmyk ? TJPF_CMYK : TJPF_RGB
        let rc = buffer.withUnsafeMutableBufferPointer { out in
            tjDecompress2(
                handle, bytes, UInt(bytes.count), out.baseAddress, Int32(w), 0, Int32(h), Int32(format.rawValue),
                fast ? Int32(TJFLAG_FASTDCT | TJFLAG_FASTUPSAMPLE) : 0)
        }
        if rc != 0 {
            // Warnings (such as stray bytes) still leave a usable image; a premature end does not.
            let message = String(cString: tjGetErrorStr2(handle))
            if tjGetErrorCode(handle) != Int32(TJERR_WARNING.rawValue) || message.contains("Premature end") {
                throw ImageError(source, "is truncated or corrupt (\(message))")
            }
        }
        if cmyk { buffer = Self.rgb(fromInvertedCMYK: buffer) }
        // One component (the presize cache's entries for grey photos): libjpeg-turbo copies it to red, green and blue.
        let grey = !cmyk && subsampling == Int32(TJSAMP_GRAY.rawValue)
        return RGBImage(width: w, height: h, pixels: buffer, grey: grey).oriented(EXIF.orientation(in: bytes))
    }

    /// The smallest libjpeg-turbo scale whose shorter side still covers `minimumSide`.
    func scaledSize(width: Int, height: Int) -> (Int, Int) {
        guard let minimumSide else { return (width, height) }
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count) else { return (width, height) }
        var best = (width, height)
        for i in 0..<Int(count) {
            let f = factors[i]
            let (num, den) = (Int(f.num), Int(f.denom))
            guard num <= den else { continue }  // never upscale in the decoder
            let w = (width * num + den - 1) / den, h = (height * num + den - 1) / den
            if min(w, h) >= minimumSide, w * h < best.0 * best.1 { best = (w, h) }
        }
        return best
    }

    /// Adobe-style CMYK JPEGs store inverted ink values: R = C·K/255 on the stored values.
    static func rgb(fromInvertedCMYK cmyk: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: cmyk.count / 4 * 3)
        for i in 0..<(cmyk.count / 4) {
            let k = Int(cmyk[i * 4 + 3])
            for c in 0..<3 { out[i * 3 + c] = UInt8(Int(cmyk[i * 4 + c]) * k / 255) }
        }
        return out
    }

    // MARK: PNG

    func decodePNG(_ bytes: [UInt8], source: URL) throws -> RGBImage {
        // The IHDR chunk comes first (PNG signature, length, "IHDR", width, height): decide the pixel limit from it
        // before libpng reads further, so a file that stops after its header is still refused for its size.
        if bytes.count >= 24, Array(bytes[12..<16]) == Array("IHDR".utf8) {
            func u32(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
            try checkPixels(u32(16), u32(20), source: source)
        }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        func message() -> String {
            withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        guard bytes.withUnsafeBytes({ png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }) != 0 else {
            throw ImageError(source, "is not a readable PNG (\(message()))")
        }
        let w = Int(image.width), h = Int(image.height)
        try checkPixels(w, h, source: source)
        let grey = image.format == 0  // PNG_FORMAT_GRAY, which `readPixels` copies to three channels
        let pixels = readPixels(&image, width: w, height: h)
        guard let pixels else { throw ImageError(source, "is truncated or corrupt (\(message()))") }
        return RGBImage(width: w, height: h, pixels: pixels, grey: grey)
    }

    /// The image's 8-bit RGB pixels, transparency composited on ``background``; nil when libpng fails to read them
    /// (its message is in `image`).
    private func readPixels(_ image: inout png_image, width w: Int, height h: Int) -> [UInt8]? {
        let sixteen = image.format & 4 != 0
        if image.format == 0 {  // PNG_FORMAT_GRAY: 8-bit grey, no transparency, no palette
            // Read as one channel and copied to three (ELPV's cells): libpng's own grey-to-RGB step cost a tenth to a
            // sixth of its time here.
            var grey = [UInt8](repeating: 0, count: w * h)
            guard grey.withUnsafeMutableBytes({ png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }) != 0
            else { return nil }
            return [UInt8](unsafeUninitializedCapacity: w * h * 3) { rgb, count in
                for (i, g) in grey.enumerated() { (rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]) = (g, g, g) }
                count = w * h * 3
            }
        }
        // An 8-bit file without transparency (no alpha channel, no tRNS: PNG_FORMAT_FLAG_ALPHA unset) is read as
        // RGB directly: nothing to composite, and no pass over the pixels (the common photo).
        if !sixteen, image.format & 1 == 0 {
            image.format = 2  // PNG_FORMAT_RGB
            var rgb = [UInt8](repeating: 0, count: w * h * 3)
            let ok = rgb.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
            return ok != 0 ? rgb : nil
        }
        // 16-bit file: libpng would treat it as linear light and gamma-encode it when reading to 8 bits. Read the
        // raw 16-bit values (alpha premultiplied in that mode) and keep their high byte. Else 8-bit sRGB RGBA with
        // straight alpha. One buffer, read into and then packed to RGB in place (the packed bytes never overtake
        // the unread ones): a 16-bit 10,000 × 10,000 PNG peaked at 2.0 GB with a second buffer and a float copy.
        image.format = sixteen ? 3 | 4 : 3  // PNG_FORMAT_LINEAR_RGB_ALPHA or PNG_FORMAT_RGBA
        var buffer = [UInt8](repeating: 0, count: w * h * (sixteen ? 8 : 4))
        let ok = buffer.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
        guard ok != 0 else { return nil }
        let bg = [Int(background.r), Int(background.g), Int(background.b)]
        buffer.withUnsafeMutableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            if sixteen {
                let words = UnsafeMutableRawBufferPointer(raw)
                for i in 0..<(w * h) {
                    func word(_ k: Int) -> Int { Int(words.load(fromByteOffset: (i * 4 + k) * 2, as: UInt16.self)) }
                    let a = word(3)
                    for c in 0..<3 {
                        bytes[i * 3 + c] = UInt8(min(65535, word(c) + bg[c] * 257 * (65535 - a) / 65535) >> 8)
                    }
                }
            } else {
                for i in 0..<(w * h) {
                    let a = Int(bytes[i * 4 + 3])
                    for c in 0..<3 {
                        bytes[i * 3 + c] = UInt8((Int(bytes[i * 4 + c]) * a + bg[c] * (255 - a) + 127) / 255)
                    }
                }
            }
        }
        buffer.removeLast(buffer.count - w * h * 3)
        return buffer
    }
}

/// An image file that cannot be used, with its path.
public struct ImageError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let problem: String
    public init(_ url: URL, _ problem: String) {
        path = url.path
        self.problem = problem
    }
    public var description: String { "\(path) \(problem)" }
}
