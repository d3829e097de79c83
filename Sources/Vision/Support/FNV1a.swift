import Foundation
import Torch

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

/// Content fingerprints of files, remembered while a file's inode, size, modification and change times stay the
/// same. The change time (ctime) cannot be set back by `cp -p` or `rsync -t`, so a replaced file is read again;
/// an unchanged one is not read on every lookup (the loader looks each image up once per epoch).
final class FingerprintMemo: Sendable {
    private struct Stamp: Equatable {
        var inode: UInt64, size: Int64, modified: timespec, changed: timespec
        static func == (a: Stamp, b: Stamp) -> Bool {
            a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec
                && a.modified.tv_nsec == b.modified.tv_nsec && a.changed.tv_sec == b.changed.tv_sec
                && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }
    private let known = Locked<[String: (stamp: Stamp, fingerprint: UInt64)]>([:])

    /// The fingerprint of `url`, whose `stat` is `info`.
    func fingerprint(of url: URL, _ info: stat) throws -> UInt64 {
        let stamp = Stamp(
            inode: UInt64(info.st_ino), size: Int64(info.st_size), modified: info.st_mtim, changed: info.st_ctim)
        if let entry = known.withLock({ $0[url.path] }), entry.stamp == stamp { return entry.fingerprint }
        let value: UInt64
        do {
            value = try contentFingerprint(of: url)
        } catch {
            throw ImageError(url, "cannot be read: \(error.localizedDescription)")
        }
        known.withLock { $0[url.path] = (stamp, value) }
        return value
    }
}
