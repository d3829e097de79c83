import Foundation

/// Writes files whole or not at all: the bytes go to a hidden partial file next to the target, which is renamed
/// over it (rename(2) is atomic), so a reader never sees half a model, CSV or report.
///
/// Partial files in progress are registered, so a signal handler that must quit at once can remove them
/// (``removePartialFiles()``); a process killed outright (SIGKILL, power loss) leaves its partial file, which
/// ``removeLeftovers(in:)`` deletes the next time a run uses the folder. Partial names carry the writer's
/// process id: `.model.safetensors.quadrat-partial-4711`.
public enum AtomicFile {
    static let marker = ".quadrat-partial-"
    private static let inProgress = Locked<Set<String>>([])

    /// Writes `data` to `url` atomically; the error names the file and the system's reason. A symbolic link is
    /// followed (its target is written, the link stays); a FIFO or a device (`--out /dev/stdout`) is written into
    /// as a stream, which cannot be atomic.
    public static func write(_ data: Data, to url: URL) throws {
        // stat(2) follows links the way the kernel does (/dev/stdout → /proc/self/fd/1 → a pipe): anything that is
        // there and not a regular file or folder is opened as it is, through the path given.
        var info = stat()
        if stat(url.path, &info) == 0, ![S_IFREG, S_IFDIR].contains(info.st_mode & S_IFMT) {
            return try writeAll(data, to: url.path, flags: O_WRONLY | O_CLOEXEC)
        }
        let url = resolvingLinks(url)
        let partial = url.deletingLastPathComponent()
            .appendingPathComponent(
                ".\(url.lastPathComponent)\(marker)\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        inProgress.withLock { _ = $0.insert(partial.path) }
        defer { inProgress.withLock { _ = $0.remove(partial.path) } }
        do {
            try writeAll(data, to: partial.path)
            guard rename(partial.path, url.path) == 0 else { throw FileWriteError(url, errno) }
        } catch let error as FileWriteError {
            unlink(partial.path)
            throw FileWriteError(url, error.reason)
        }
    }

    /// Writes `text` as UTF-8 to `url` atomically.
    public static func write(_ text: String, to url: URL) throws { try write(Data(text.utf8), to: url) }

    /// Deletes every partial file this process is writing now. For a signal handler about to `_exit`: the
    /// writers are left mid-way, their targets untouched.
    public static func removePartialFiles() {
        for path in inProgress.withLock({ $0 }) { unlink(path) }
    }

    /// Deletes partial files in `folder` whose writer is no longer running; returns how many.
    @discardableResult
    public static func removeLeftovers(in folder: URL) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []  // no folder: none
        var removed = 0
        for name in names {
            guard let range = name.range(of: marker) else { continue }
            let pidText = name[range.upperBound...].prefix { $0.isNumber }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            if unlink(folder.appendingPathComponent(name).path) == 0 { removed += 1 }
        }
        return removed
    }

    /// The path a chain of symbolic links at `url` ends at: the kernel's answer (realpath) when the target exists,
    /// else the links followed one by one (at most 40, as the kernel allows; a loop or a longer chain is left as
    /// given).
    static func resolvingLinks(_ url: URL) -> URL {
        if let resolved = realpath(url.path, nil) {
            defer { free(resolved) }
            return URL(fileURLWithPath: String(cString: resolved))
        }
        var current = url
        for _ in 0..<40 {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: current.path) else {
                return current
            }
            current =
                target.hasPrefix("/")
                ? URL(fileURLWithPath: target)
                : current.deletingLastPathComponent().appendingPathComponent(target).standardized
        }
        return url
    }

    private static func writeAll(
        _ data: Data, to path: String, flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
    ) throws {
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else { throw FileWriteError(URL(fileURLWithPath: path), errno) }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)  // non-empty: count > 0
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw FileWriteError(URL(fileURLWithPath: path), errno) }
                done += n
            }
        }
    }
}

/// A file that could not be written, with the path and the system's reason ("Permission denied", "No space
/// left on device").
public struct FileWriteError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String

    init(_ url: URL, _ code: Int32) {
        path = url.path
        reason = String(cString: strerror(code))
    }

    init(_ url: URL, _ reason: String) {
        path = url.path
        self.reason = reason
    }

    public var description: String { "cannot write \(path): \(reason)" }
}
