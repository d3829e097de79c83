import Foundation

/// One training run per run folder: an exclusive `flock` on `RUN/.quadrat.lock`, held while the run lives and
/// released by the kernel when the process ends however it ends. A second run into the same folder stops before any
/// work, naming the process that holds it (two runs used to both finish, each overwriting the other's files).
final class RunFolderLock {
    static let fileName = ".quadrat.lock"
    private let descriptor: Int32

    /// Takes the lock of `folder` (which exists), or throws naming the process that holds it.
    init(_ folder: URL) throws {
        let path = folder.appendingPathComponent(Self.fileName).path
        // O_NOFOLLOW: a link planted at the lock's name must not make us truncate its target.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw WorkflowError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.readPid(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                throw WorkflowError("cannot lock \(path): \(String(cString: strerror(code)))")
            }
            throw WorkflowError(
                "another run is writing into \(folder.path)"
                    + (holder.map { " (process \($0))" } ?? "")
                    + ": wait for it to end, or give another --out")
        }
        descriptor = fd
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, text, text.utf8.count, 0)  // the pid is for the message above; the lock is the flock
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The process id the holder wrote, if it could be read.
    static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
