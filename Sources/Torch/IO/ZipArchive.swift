import Foundation

/// A minimal reader for the uncompressed ("stored") zip archives that `torch.save`
/// writes since PyTorch 1.6. It reads the central directory and hands out each
/// entry's byte range; compressed entries are refused with a clear error.
///
/// Every field is read through ``Reader``, which checks the position against the file before it
/// indexes, so a damaged or hostile archive is an error, never an out-of-bounds read (issue 12).
struct ZipArchive {
    struct Entry {
        var name: String
        var dataRange: Range<Int>
    }

    let entries: [String: Entry]

    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    /// Little-endian fields at absolute positions, each one checked against the file's length.
    private struct Reader {
        let bytes: [UInt8]
        let fail: (String) -> WeightsError

        /// `count` bytes from `at`, or an error when they are not all inside the file.
        func range(_ at: Int, _ count: Int, _ what: String) throws -> Range<Int> {
            guard at >= 0, count >= 0, at <= bytes.count, count <= bytes.count - at else {
                throw fail("\(what) lies outside the file")
            }
            return at..<(at + count)
        }

        func unsigned(_ at: Int, _ width: Int, _ what: String) throws -> UInt64 {
            var value: UInt64 = 0
            for (i, index) in try range(at, width, what).enumerated() { value |= UInt64(bytes[index]) << (8 * i) }
            return value
        }

        func u16(_ at: Int, _ what: String) throws -> Int { Int(try unsigned(at, 2, what)) }
        func u32(_ at: Int, _ what: String) throws -> Int { Int(try unsigned(at, 4, what)) }

        /// A 64-bit field, refused when it cannot be a position or size in this file.
        func u64(_ at: Int, _ what: String) throws -> Int {
            let value = try unsigned(at, 8, what)
            guard value <= UInt64(bytes.count) else { throw fail("\(what) (\(value)) is larger than the file") }
            return Int(value)
        }
    }

    init(bytes: [UInt8], source: String) throws {
        let file = Reader(bytes: bytes) {
            WeightsError(URL(fileURLWithPath: source), "is not a readable zip checkpoint: \($0)")
        }

        // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
        guard bytes.count >= 22 else { throw file.fail("too short") }
        var eocd = -1
        var i = bytes.count - 22
        while i >= max(0, bytes.count - 65_557) {
            if try file.u32(i, "end record") == 0x0605_4B50 {
                eocd = i
                break
            }
            i -= 1
        }
        guard eocd >= 0 else { throw file.fail("no end-of-central-directory record") }
        var count = try file.u16(eocd + 10, "entry count")
        var directory = try file.u32(eocd + 16, "central directory offset")
        // Zip64: the classic record holds 0xFFFF… and a zip64 record sits before its locator.
        if count == 0xFFFF || directory == 0xFFFF_FFFF, eocd >= 20,
            try file.u32(eocd - 20, "zip64 locator") == 0x0706_4B50
        {
            let record = try file.u64(eocd - 20 + 8, "zip64 record offset")
            guard try file.u32(record, "zip64 record") == 0x0606_4B50 else { throw file.fail("broken zip64 record") }
            count = try file.u64(record + 32, "zip64 entry count")
            directory = try file.u64(record + 48, "zip64 central directory offset")
        }
        var entries: [String: Entry] = [:]
        var p = directory
        // Each central directory record takes at least 46 bytes, so a count above that is a lie.
        guard count <= bytes.count / 46 else { throw file.fail("claims \(count) entries") }
        for _ in 0..<count {
            guard try file.u32(p, "central directory") == 0x0201_4B50 else {
                throw file.fail("broken central directory")
            }
            let method = try file.u16(p + 10, "compression method")
            var size = try file.u32(p + 20, "entry size")
            let nameLength = try file.u16(p + 28, "name length")
            let extraLength = try file.u16(p + 30, "extra length")
            let commentLength = try file.u16(p + 32, "comment length")
            var local = try file.u32(p + 42, "local header offset")
            let name = String(decoding: bytes[try file.range(p + 46, nameLength, "entry name")], as: UTF8.self)
            // Zip64 extra field (id 1) carries the sizes/offset that overflowed.
            var e = p + 46 + nameLength
            let extraEnd = try file.range(e, extraLength, "extra field of \(name)").upperBound
            while e + 4 <= extraEnd {
                let id = try file.u16(e, "extra field id"), length = try file.u16(e + 2, "extra field length")
                if id == 1 {
                    var q = e + 4
                    if try file.u32(p + 24, "uncompressed size") == 0xFFFF_FFFF { q += 8 }
                    if size == 0xFFFF_FFFF {
                        size = try file.u64(q, "zip64 size of \(name)")
                        q += 8
                    }
                    if local == 0xFFFF_FFFF { local = try file.u64(q, "zip64 offset of \(name)") }
                }
                e += 4 + length
            }
            guard method == 0 else {
                throw file.fail("entry \(name) is compressed (method \(method)); PyTorch writes stored entries")
            }
            guard try file.u32(local, "local header of \(name)") == 0x0403_4B50 else {
                throw file.fail("entry \(name) has no local header")
            }
            let start =
                local + 30 + (try file.u16(local + 26, "local name length"))
                + (try file.u16(local + 28, "local extra length"))
            entries[name] = Entry(name: name, dataRange: try file.range(start, size, "data of entry \(name)"))
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}
