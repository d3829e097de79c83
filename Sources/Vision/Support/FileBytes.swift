import Foundation

/// Reads a whole file with the system's own reasons on failure, in words a user can act on ("is a symbolic
/// link to /mnt/card/x.jpg, which does not exist", "is a symbolic link loop") rather than Foundation's
/// "NSCocoaErrorDomain error 256".
public enum FileBytes {
    /// Only regular files are read: a FIFO would block the whole run (opened without O_NONBLOCK, or read), and a
    /// device such as /dev/zero never ends.
    public static func read(_ url: URL) throws -> [UInt8] {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ImageError(url, problem(url, errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ImageError(url, problem(url, errno)) }
        guard info.st_mode & S_IFMT != S_IFDIR else { throw ImageError(url, "is a folder, not an image") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ImageError(url, "is \(kind(info.st_mode)), not an image file")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw ImageError(url, problem(url, errno)) }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    /// "a FIFO", "a device", "a socket": what a path that is not a regular file is.
    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    /// Why `url` cannot be opened, from `code` (an errno) and what the path is.
    static func problem(_ url: URL, _ code: Int32) -> String {
        if code == ELOOP { return "is a symbolic link loop" }
        if code == ENOENT, let target = try? FileManager.default.destinationOfSymbolicLink(atPath: url.path) {
            return "is a symbolic link to \(target), which does not exist"
        }
        return "cannot be read (\(String(cString: strerror(code))))"
    }

    /// Whether something (a file, a folder, a link even if broken) is at `url`.
    public static func exists(_ url: URL) -> Bool {
        var info = stat()
        return lstat(url.path, &info) == 0
    }
}
