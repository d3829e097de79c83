import Foundation

/// Reads the few EXIF tags Quadrat uses from a JPEG's APP1 segment: the orientation (0x0112) that turns a photo
/// upright, and when and with which camera it was taken (DateTimeOriginal 0x9003 in the Exif sub-IFD, Model 0x0110),
/// which group photos into bursts. Every offset is checked against the segment: damaged metadata reads as absent.
public enum EXIF {
    /// The tags read from one photo.
    public struct Tags: Sendable, Equatable {
        /// 1–8 (1 when absent).
        public var orientation = 1
        /// DateTimeOriginal as written, "YYYY:MM:DD HH:MM:SS" (nil when absent or malformed).
        public var taken: String?
        /// The camera model (nil when absent).
        public var model: String?

        public init(orientation: Int = 1, taken: String? = nil, model: String? = nil) {
            (self.orientation, self.taken, self.model) = (orientation, taken, model)
        }

        /// ``taken`` as seconds since 1970 in UTC (the camera's clock, whatever zone it was set to).
        public var takenSeconds: Double? {
            guard let taken, taken.utf8.count >= 19 else { return nil }
            let digits = Array(taken.utf8.prefix(19))
            func number(_ range: Range<Int>) -> Int? {
                var value = 0
                for i in range {
                    guard (48...57).contains(digits[i]) else { return nil }
                    value = value * 10 + Int(digits[i] - 48)
                }
                return value
            }
            guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10), let h = number(11..<13),
                let mi = number(14..<16), let s = number(17..<19), (1...12).contains(mo), (1...31).contains(d),
                h < 24, mi < 60, s < 61, y > 0
            else { return nil }
            return Double(daysFromCivil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
        }
    }

    /// The tags of the photo file at `url` from its first 64 KiB (where a JPEG's metadata lies); none for a file
    /// that is not a JPEG or cannot be read.
    public static func tags(ofFile url: URL) -> Tags {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return Tags() }  // unreadable: no tags
        defer { try? handle.close() }  // closing a file opened for reading cannot lose data
        let head = [UInt8]((try? handle.read(upToCount: 65_536)) ?? nil ?? Data())  // a read error: no tags
        return ImageDecoder.format(of: head) == .jpeg ? tags(in: head) : Tags()
    }

    /// 1–8, or 1 when the JPEG has no (readable) orientation.
    public static func orientation(in jpeg: [UInt8]) -> Int { tags(in: jpeg).orientation }

    /// The tags of a JPEG (all absent for another format or damaged metadata).
    public static func tags(in jpeg: [UInt8]) -> Tags {
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
                guard end > p + 10 else { return Tags() }
                return TIFF(Array(jpeg[(p + 10)..<end])).tags()
            }
            p += 2 + length
        }
        return Tags()
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The TIFF structure inside the APP1 segment: a byte order, then image file directories of 12-byte entries.
    struct TIFF {
        let bytes: [UInt8]
        let little: Bool  // "II" little-endian, "MM" big-endian

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            little = bytes.first == 0x49
        }

        func u16(_ i: Int) -> Int? {
            guard i >= 0, i + 2 <= bytes.count else { return nil }
            return little ? Int(bytes[i]) | Int(bytes[i + 1]) << 8 : Int(bytes[i]) << 8 | Int(bytes[i + 1])
        }

        func u32(_ i: Int) -> Int? {
            guard let a = u16(i), let b = u16(i + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }

        /// The entries of the directory at `offset`: tag → the entry's offset.
        func directory(at offset: Int) -> [Int: Int] {
            guard let count = u16(offset) else { return [:] }
            var entries: [Int: Int] = [:]
            for k in 0..<count {
                let entry = offset + 2 + k * 12
                guard let tag = u16(entry), entry + 12 <= bytes.count else { break }
                entries[tag] = entry
            }
            return entries
        }

        /// An ASCII entry's text (type 2): in the entry when ≤ 4 bytes, else at its offset; up to the first NUL.
        func ascii(_ entry: Int?) -> String? {
            guard let entry, u16(entry + 2) == 2, let count = u32(entry + 4), count > 0, count <= 256 else {
                return nil
            }
            let start = count <= 4 ? entry + 8 : u32(entry + 8) ?? -1
            guard start >= 0, start + count <= bytes.count else { return nil }
            // EXIF text is 7-bit ASCII: anything else is damage, left out (it would not print, and could grow).
            let text = bytes[start..<(start + count)].prefix { $0 != 0 }.filter { (32...126).contains($0) }
            let string = String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            return string.isEmpty ? nil : string
        }

        func tags() -> Tags {
            guard bytes.count >= 8, let first = u32(4) else { return Tags() }
            let ifd0 = directory(at: first)
            var tags = Tags()
            if let entry = ifd0[0x0112], let value = u16(entry + 8), (1...8).contains(value) {
                tags.orientation = value
            }
            tags.model = ascii(ifd0[0x0110])
            if let pointer = ifd0[0x8769], let sub = u32(pointer + 8), sub != first {
                tags.taken = ascii(directory(at: sub)[0x9003])
                if tags.takenSeconds == nil { tags.taken = nil }
            }
            return tags
        }
    }
}
