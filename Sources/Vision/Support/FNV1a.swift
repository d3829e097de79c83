import Foundation

/// 64-bit FNV-1a, for stable cache keys.
public func fnv1a(_ text: String) -> UInt64 { fnv1a(bytes: text.utf8) }

/// 64-bit FNV-1a over bytes, continuing from `hash`.
public func fnv1a<S: Sequence>(bytes: S, hash start: UInt64 = 0xCBF2_9CE4_8422_2325) -> UInt64
where S.Element == UInt8 {
    var hash = start
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01B3
    }
    return hash
}

/// A fast fingerprint of a file's content: FNV-1a over its first and last 64 KiB (the whole file when it is
/// smaller). Catches a replaced file that kept its size and modification time (`cp -p`, `rsync -t`).
public func contentFingerprint(of url: URL) throws -> UInt64 {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }  // closing a file opened for reading cannot lose data
    let window = 65_536
    var hash = fnv1a(bytes: try handle.read(upToCount: window) ?? Data())
    let size = try handle.seekToEnd()
    if size > UInt64(2 * window) {
        try handle.seek(toOffset: size - UInt64(window))
        hash = fnv1a(bytes: try handle.read(upToCount: window) ?? Data(), hash: hash)
    } else if size > UInt64(window) {
        try handle.seek(toOffset: UInt64(window))
        hash = fnv1a(bytes: try handle.readToEnd() ?? Data(), hash: hash)
    }
    return hash
}
