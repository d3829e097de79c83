import Foundation

/// A minimal reader for the uncompressed ("stored") zip archives that `torch.save`
/// writes since PyTorch 1.6. It reads the central directory and hands out each
/// entry's byte range; compressed entries are refused with a clear error.
struct ZipArchive {
    struct Entry {
        var name: String
        var dataRange: Range<Int>
    }

    let entries: [String: Entry]

    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(bytes: [UInt8], source: String) throws {
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func u64(_ at: Int) -> Int { u32(at) | u32(at + 4) << 32 }
        func bad(_ why: String) -> WeightsError {
            WeightsError(URL(fileURLWithPath: source), "is not a readable zip checkpoint: \(why)")
        }

        // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
        guard bytes.count >= 22 else { throw bad("too short") }
        var eocd = -1
        var i = bytes.count - 22
        while i >= max(0, bytes.count - 65_557) {
            if u32(i) == 0x0605_4B50 {
                eocd = i
                break
            }
            i -= 1
        }
        guard eocd >= 0 else { throw bad("no end-of-central-directory record") }
        var count = u16(eocd + 10)
        var directory = u32(eocd + 16)
        // Zip64: the classic record holds 0xFFFF… and a zip64 record sits before its locator.
        if count == 0xFFFF || directory == 0xFFFF_FFFF, eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let record = u64(eocd - 20 + 8)
            guard record + 56 <= bytes.count, u32(record) == 0x0606_4B50 else { throw bad("broken zip64 record") }
            count = u64(record + 32)
            directory = u64(record + 48)
        }
        var entries: [String: Entry] = [:]
        var p = directory
        for _ in 0..<count {
            guard p + 46 <= bytes.count, u32(p) == 0x0201_4B50 else { throw bad("broken central directory") }
            let method = u16(p + 10)
            var size = u32(p + 20)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32)
            var local = u32(p + 42)
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            // Zip64 extra field (id 1) carries the sizes/offset that overflowed.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = u16(e), length = u16(e + 2)
                if id == 1 {
                    var q = e + 4
                    if u32(p + 24) == 0xFFFF_FFFF { q += 8 }  // uncompressed size
                    if size == 0xFFFF_FFFF {
                        size = u64(q)
                        q += 8
                    }
                    if local == 0xFFFF_FFFF { local = u64(q) }
                }
                e += 4 + length
            }
            guard method == 0 else {
                throw bad("entry \(name) is compressed (method \(method)); PyTorch writes stored entries")
            }
            guard local + 30 <= bytes.count, u32(local) == 0x0403_4B50 else {
                throw bad("entry \(name) has no local header")
            }
            let start = local + 30 + u16(local + 26) + u16(local + 28)
            guard start + size <= bytes.count else { throw bad("entry \(name) runs past the end of the file") }
            entries[name] = Entry(name: name, dataRange: start..<(start + size))
            p += 46 + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }
}
