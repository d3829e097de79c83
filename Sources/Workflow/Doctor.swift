import Foundation
import Torch
import Vision

/// `quadrat doctor`: is this machine ready, and what would it pick? Each check is ok, warn or fail, with the
/// command that fixes it (the seed opened with the same kind of check: "CUDA and CuDNN should both be true").
public enum Doctor {
    public enum Status: String, Sendable { case ok, warn, fail }

    public struct Check: Sendable {
        public var status: Status
        public var name: String
        public var detail: String
        /// What to run or do when the status is not ok.
        public var fix: String?

        public var line: String {
            let head =
                status.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
                + name.padding(toLength: 12, withPad: " ", startingAt: 0) + detail
            return fix.map { head + "\n" + String(repeating: " ", count: 18) + "fix: " + $0 } ?? head
        }
    }

    /// Every check, in the order printed.
    public static func checks() -> [Check] {
        [libtorch(), gpu(), blas(), threads(), cpu(), precision(), weights(), home()]
    }

    static func libtorch() -> Check {
        Check(
            status: .ok, name: "libtorch",
            detail: "\(Torch.version), \(Torch.isCUDABuilt ? "CUDA build" : "CPU build (no CUDA)")"
                + (libtorchFolder().map { ", from \($0)" } ?? ""))
    }

    /// The BLAS library in the process and a measured 1024² matrix product.
    static func blas() -> Check {
        let libraries = loadedLibraries()
        // The folder tells the variant: Debian's openblas-openmp, openblas-pthread or openblas-serial.
        let library = ["openblas", "mkl", "blis", "libblas"].lazy.compactMap { token in
            libraries.first { $0.contains(token) }
        }.first
        let name =
            library.map {
                URL(fileURLWithPath: $0).deletingLastPathComponent().lastPathComponent + "/"
                    + URL(fileURLWithPath: $0).lastPathComponent
            } ?? "none found"
        let rate = (try? matmulGFLOPs()) ?? 0
        let kernels = BLASKernels.current.map { " (\($0) kernels)" } ?? ""
        let detail = String(format: "%@%@, matmul 1024² %.0f GFLOP/s", name, kernels, rate)
        // Reference BLAS (Debian's libblas3 alone) runs a few GFLOP/s; OpenBLAS on 2 cores, well over 50.
        guard rate >= 20 else {
            return Check(
                status: .warn, name: "BLAS", detail: detail + " (slow: matrix products will dominate)",
                fix: "apt-get install libopenblas0-openmp")
        }
        // `quadrat` restarts itself with better kernels (BLASKernels); a process that did not (the test suite, or
        // OPENBLAS_CORETYPE set by hand) is told what it misses.
        if let suited = BLASKernels.suited(current: BLASKernels.current, flags: CPUFlags.current) {
            return Check(
                status: .warn, name: "BLAS",
                detail: detail + " (OpenBLAS's generic kernels: it does not know this CPU)",
                fix: "OPENBLAS_CORETYPE=\(suited) (quadrat sets it itself unless OPENBLAS_CORETYPE is set)")
        }
        // libtorch's own threads are OpenMP (libgomp); an OpenBLAS built for pthreads keeps a second pool. libtorch
        // links three BLAS names (libblas.so.3, liblapack.so.3, libopenblas.so.0), each chosen by its own alternative:
        // any one of them left on the pthread build loads it.
        if libraries.contains(where: { $0.contains("openblas-pthread") }),
            libraries.contains(where: { $0.contains("libgomp") })
        {
            return Check(
                status: .warn, name: "BLAS", detail: detail + " (a pthread OpenBLAS next to libtorch's OpenMP threads)",
                fix: "scripts/setup.sh system (selects the OpenMP OpenBLAS for libblas.so.3, liblapack.so.3 and "
                    + "libopenblas.so.0)")
        }
        return Check(status: .ok, name: "BLAS", detail: detail)
    }

    static func matmulGFLOPs() throws -> Double {
        let a = try Tensor.randn([1024, 1024]), b = try Tensor.randn([1024, 1024])
        _ = try a.matmul(b)
        let start = Date()
        for _ in 0..<5 { _ = try a.matmul(b) }
        return 5 * 2 * pow(1024, 3) / Date().timeIntervalSince(start) / 1e9
    }

    static func threads() -> Check {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        Torch.useAllCores()
        let used = Torch.threads
        let detail =
            "\(used) libtorch thread(s) on \(cores) core(s)"
            + (ProcessInfo.processInfo.environment["QUADRAT_THREADS"].map { " (QUADRAT_THREADS=\($0))" } ?? "")
        guard used >= cores else {
            return Check(status: .warn, name: "threads", detail: detail, fix: "unset QUADRAT_THREADS to use every core")
        }
        return Check(status: .ok, name: "threads", detail: detail)
    }

    /// The CPU model and the instruction sets that decide bf16 and int8 speed.
    static func cpu() -> Check {
        let flags = CPUFlags.current
        let sets = [("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"), ("amx_tile", "AMX")]
        let has = sets.filter { flags.contains($0.0) }.map(\.1)
        let missing = sets.filter { !flags.contains($0.0) }.map(\.1)
        return Check(
            status: .ok, name: "CPU",
            detail: "\(MachineProfile.cpuModel); has \(has.isEmpty ? "none of AVX2…AMX" : has.joined(separator: ", "))"
                + (missing.isEmpty ? "" : "; lacks \(missing.joined(separator: ", "))"))
    }

    /// What `train` measured on this machine (the precision it picks).
    static func precision() -> Check {
        let profiles =
            (try? Data(contentsOf: MachineProfile.file)).flatMap {
                try? JSONDecoder().decode([String: MachineProfile].self, from: $0)  // damaged or absent: not measured
            } ?? [:]
        let mine = profiles.filter { $0.key.hasPrefix(MachineProfile.machineKey + " |") }.sorted { $0.key < $1.key }
        guard !mine.isEmpty else {
            return Check(
                status: .ok, name: "precision",
                detail: "not measured on this machine yet: the first `train` times fp32 and bf16 (about 40 s)")
        }
        let lines = mine.map { key, profile in
            "\(key.components(separatedBy: " | ").last ?? key): \(profile.summary(.auto))"
        }
        return Check(
            status: .ok, name: "precision",
            detail: (lines + ["(measured once; `quadrat doctor --measure` measures again)"])
                .joined(separator: "\n" + String(repeating: " ", count: 18)))
    }

    /// The bundled ImageNet checkpoints: present, and their sha256 beginning with the 8 hex digits in their names.
    static func weights() -> Check {
        var present: [String] = [], problems: [String] = []
        for architecture in Architecture.allCases {
            guard let name = architecture.meta.bundledWeights else { continue }
            let url = QuadratPaths.weights.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else {
                problems.append("\(name) missing")
                continue
            }
            let expected = name.split(separator: "-").last?.split(separator: ".").first.map(String.init) ?? ""
            let digest: String
            do {
                digest = try SHA256.hex(of: url)
            } catch {
                problems.append("\(name) cannot be read: \(error.localizedDescription)")
                continue
            }
            if !digest.hasPrefix(expected) {
                problems.append("\(name) is damaged (sha256 \(digest.prefix(8))…)")
            } else {
                present.append(architecture.rawValue)
            }
        }
        let detail = "\(QuadratPaths.weights.path): " + (present.isEmpty ? "none" : present.joined(separator: ", "))
        guard problems.isEmpty else {
            // Lite0 is the default architecture: without it `train` cannot start.
            let fatal = problems.contains { $0.hasPrefix("efficientnet-lite0") }
            return Check(
                status: fatal ? .fail : .warn, name: "weights",
                detail: detail + "; " + problems.joined(separator: "; "),
                fix: "scripts/setup.sh weights")
        }
        return Check(status: .ok, name: "weights", detail: detail + " (sha256 verified)")
    }

    /// `$QUADRAT_HOME`: writable, its caches' sizes and the free disk.
    static func home() -> Check {
        let home = QuadratPaths.home
        let probe = home.appendingPathComponent(".doctor-\(getpid())")
        let writable =
            (try? FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)) != nil
            && FileManager.default.createFile(atPath: probe.path, contents: Data())
        unlink(probe.path)
        let sizes = ["presize", "features"].map { "\($0) \(megabytes(home.appendingPathComponent($0))) MB" }
        var info = statvfs()
        let free = statvfs(home.path, &info) == 0 ? Double(info.f_bavail) * Double(info.f_frsize) / 1e9 : .nan
        let detail = "\(home.path): \(sizes.joined(separator: ", ")); \(String(format: "%.1f", free)) GB free"
        guard writable else {
            return Check(
                status: .fail, name: "home", detail: detail + "; not writable",
                fix: "set QUADRAT_HOME to a writable folder")
        }
        guard free >= 2 else {
            return Check(
                status: .warn, name: "home", detail: detail, fix: "free disk space, or remove \(home.path)/features")
        }
        return Check(status: .ok, name: "home", detail: detail)
    }

    // MARK: helpers

    /// Paths of the shared libraries mapped into this process.
    static func loadedLibraries() -> [String] {
        // /proc files report a size of 0, so read them to the end. No /proc (not Linux): nothing known.
        guard let bytes = try? FileBytes.read(URL(fileURLWithPath: "/proc/self/maps")) else { return [] }
        let maps = String(decoding: bytes, as: UTF8.self)
        return Array(Set(maps.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }))
            .filter { $0.hasPrefix("/") }
    }

    static func megabytes(_ folder: URL) -> Int {
        guard let files = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.fileSizeKey]) else {
            return 0
        }
        var total = 0
        for case let file as URL in files {
            total += (try? file.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0  // vanished: 0
        }
        return total / 1_000_000
    }
}
