/// Reads the EXIF orientation tag (0x0112) from a JPEG's APP1 segment.
public enum EXIF {
    /// 1–8, or 1 when the JPEG has no (readable) orientation.
    public static func orientation(in jpeg: [UInt8]) -> Int {
        var p = 2
        while p + 4 <= jpeg.count, jpeg[p] == 0xFF {
            let marker = jpeg[p + 1]
            if marker == 0xDA || marker == 0xD9 { break }  // start of scan: no more metadata
            let length = Int(jpeg[p + 2]) << 8 | Int(jpeg[p + 3])
            // A segment length counts its own two bytes: below 2 the file is damaged, stop reading metadata.
            guard length >= 2 else { break }
            if marker == 0xE1, p + 10 <= jpeg.count, Array(jpeg[(p + 4)..<(p + 10)]) == Array("Exif\0\0".utf8) {
                // The segment may claim less than its "Exif" header (then there is no TIFF data) or more than
                // the file holds.
                let end = min(p + 2 + length, jpeg.count)
                guard end > p + 10 else { return 1 }
                return tiffOrientation(Array(jpeg[(p + 10)..<end])) ?? 1
            }
            p += 2 + length
        }
        return 1
    }

    static func tiffOrientation(_ tiff: [UInt8]) -> Int? {
        guard tiff.count >= 8 else { return nil }
        let little = tiff[0] == 0x49  // "II" little-endian, "MM" big-endian
        func u16(_ i: Int) -> Int? {
            guard i + 2 <= tiff.count else { return nil }
            return little ? Int(tiff[i]) | Int(tiff[i + 1]) << 8 : Int(tiff[i]) << 8 | Int(tiff[i + 1])
        }
        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard let ifd = u32(4), let count = u16(ifd) else { return nil }
        for k in 0..<count {
            let entry = ifd + 2 + k * 12
            guard let tag = u16(entry) else { return nil }
            if tag == 0x0112, let value = u16(entry + 8), (1...8).contains(value) { return value }
        }
        return nil
    }
}
