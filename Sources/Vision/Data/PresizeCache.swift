import Foundation
import Torch

/// The presize cache (fastai's `data.resize(512, TMP_PATH)`): every image decoded once, shrunk with
/// antialiasing so its shorter side is `shorterSide`, and stored as a JPEG keyed by source path,
/// modification time, file size, a fingerprint of its content and target size. Touching or replacing a
/// source file gives it a new key.
/// Entries are written to a temporary file and renamed, so concurrent runs cannot see half a file.
public struct PresizeCache: Sendable {
    public let folder: URL
    public let shorterSide: Int
    private let fingerprints = FingerprintMemo()

    public init(shorterSide: Int, folder: URL = QuadratPaths.home.appendingPathComponent("presize")) {
        self.shorterSide = shorterSide
        self.folder = folder.appendingPathComponent(String(shorterSide))
    }

    /// The shorter side a model of input `size` is presized to by default: 1.25 × size, room for
    /// the crop and zoom of augmentation.
    public static func defaultShorterSide(forSize size: Int) -> Int { Int((Double(size) * 1.25).rounded()) }

    /// The cache file for `source` in its current state.
    public func entry(for source: URL) throws -> URL {
        // stat(2) directly: FileManager's attributes also look up the owner's user and group names,
        // which cost more than the rest of a cache lookup.
        var info = stat()
        guard stat(source.path, &info) == 0 else { throw ImageError(source, FileBytes.problem(source, errno)) }
        let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        let content = try fingerprints.fingerprint(of: source, info)
        let key = "\(source.standardizedFileURL.path)|\(mtime)|\(info.st_size)|\(content)|\(shorterSide)"
        return folder.appendingPathComponent(String(format: "%016llx.jpg", fnv1a(key)))
    }

    /// The presized image, from the cache or made now (and stored).
    public func image(for source: URL) throws -> RGBImage {
        let cached = try entry(for: source)
        // A missing or damaged entry is a cache miss: it is made again below.
        if let bytes = try? Data(contentsOf: cached),
            let image = try? ImageDecoder().decode([UInt8](bytes), source: cached)
        {
            return image
        }
        // Return what the cache now holds (the JPEG round trip), so the first use and later ones see the same pixels.
        let bytes = try presizedJPEG(source)
        storeIfPossible(bytes, at: cached)
        return try ImageDecoder().decode([UInt8](bytes), source: cached)
    }

    /// Stores an entry; a cache that cannot be written (a file where its folder should be, a read-only or full
    /// disk) only costs time: the run goes on without it, and says so once, naming the folder.
    func storeIfPossible(_ bytes: Data, at url: URL) {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try store(bytes, at: url)
        } catch {
            let first = Self.unwritable.withLock { $0.insert(folder.path).inserted }
            guard first else { return }
            FileHandle.standardError.write(
                Data(
                    ("note: the presize cache \(folder.path) cannot be written (\(Self.reason(folder, error))); going on "
                        + "without it: photos are decoded again each time (QUADRAT_HOME moves the cache)\n").utf8))
        }
    }

    /// Why `folder` cannot be written, in words: the ancestor that is a file, or the system's reason.
    static func reason(_ folder: URL, _ error: Error) -> String {
        var path = folder
        while path.path != "/" {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path.path, isDirectory: &isFolder) {
                if !isFolder.boolValue { return "\(path.path) is a file, not a folder" }
                if access(path.path, W_OK) != 0 { return "\(path.path): \(String(cString: strerror(errno)))" }
                break
            }
            path.deleteLastPathComponent()
        }
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(posix.code)))
        }
        return error.localizedDescription
    }

    /// Cache folders already reported as unwritable.
    private static let unwritable = Locked<Set<String>>([])

    /// The cache entry's bytes for `source`: a 4:2:0 JPEG (quality 92) of ``presized(_:)``.
    public func presizedJPEG(_ source: URL) throws -> Data {
        try presizedJPEG(bytes: FileBytes.read(source), source: source)
    }

    /// ``presizedJPEG(_:)`` for a file's bytes: the one place the cache's encoding is decided.
    public func presizedJPEG(bytes: [UInt8], source: URL) throws -> Data {
        try ImageEncoder.jpeg(try presized(bytes: bytes, source: source), quality: 92, chromaSubsampling: true)
    }

    /// Decodes `source` at a reduced DCT scale where possible and shrinks it to the target size.
    public func presized(_ source: URL) throws -> RGBImage {
        try presized(bytes: FileBytes.read(source), source: source)
    }

    /// What a cache entry for a photo with these bytes decodes to (the presized image after its JPEG round trip),
    /// made in memory without storing it: how a server prepares an upload exactly as `predict` prepares a file.
    public func image(bytes: [UInt8], source: URL) throws -> RGBImage {
        try ImageDecoder().decode([UInt8](presizedJPEG(bytes: bytes, source: source)), source: source)
    }

    /// ``presized(_:)`` for a file's bytes; `source` names it in errors.
    public func presized(bytes: [UInt8], source: URL) throws -> RGBImage {
        var decoder = ImageDecoder(minimumSide: shorterSide)
        decoder.fast = true
        let decoded = try decoder.decode(bytes, source: source)
        let side = min(decoded.width, decoded.height)
        guard side > shorterSide else { return decoded }
        let scale = Double(shorterSide) / Double(side)
        let (w, h) =
            decoded.width <= decoded.height
            ? (shorterSide, Int((Double(decoded.height) * scale).rounded()))
            : (Int((Double(decoded.width) * scale).rounded()), shorterSide)
        // The DCT scaling already did the heavy shrinking; what is left is mild, where plain bilinear is right.
        if scale >= 0.5 { return decoded.resizedBilinear(width: w, height: h) }
        // A photo four or more times the target (a PNG: no DCT scaling) is first averaged over k × k blocks in
        // bytes, so that the antialiased resize's float copy (12 bytes a pixel) is of a small image; a long strip
        // (100,000 × 1,000: its shorter side near the target) as far as its shorter side allows.
        var k = side / (2 * shorterSide)
        if decoded.width * decoded.height > 16_000_000 { k = max(k, side / shorterSide) }
        let reduced = k >= 2 ? decoded.boxShrunk(by: k) : decoded
        return try RGBImage(tensor: Resize.shorterSide(reduced.tensor(), to: shorterSide))
    }

    @discardableResult
    func store(_ bytes: Data, at url: URL) throws -> Data {
        // A concurrent writer of the same entry wrote the same bytes: whichever rename comes last is right.
        try AtomicFile.write(bytes, to: url)
        return bytes
    }

    /// Fills the cache for `items` on `threads` threads with a progress bar; returns the images that failed.
    /// The default is two threads per core, so one thread's file reads and writes overlap another's decoding.
    @discardableResult
    public func fill(
        _ items: [ImageItem], threads: Int = 2 * ProcessInfo.processInfo.activeProcessorCount
    ) -> [DataProblem] {
        let progress = Feedback.start("presize \(shorterSide)px", total: items.count)
        // If the folder cannot be made, every entry fails to store and is reported below, naming the folder.
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        AtomicFile.removeLeftovers(in: folder)  // of a run killed while it wrote entries
        let problems = ProblemList()
        let next = AtomicCounter()
        let mainThreads = Torch.threads
        defer { Torch.threads = mainThreads }
        DispatchQueue.concurrentPerform(iterations: max(1, threads)) { _ in
            // One libtorch thread per worker: the workers already use every core.
            Torch.threads = 1
            while true {
                let i = next.increment()
                guard i < items.count else { return }
                do {
                    let cached = try entry(for: items[i].url)
                    if access(cached.path, F_OK) != 0 { storeIfPossible(try presizedJPEG(items[i].url), at: cached) }
                } catch {
                    problems.append(.unreadable(items[i].url, error))
                }
                progress.advance()
            }
        }
        return problems.all
    }
}
