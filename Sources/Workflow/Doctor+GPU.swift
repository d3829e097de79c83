import Foundation
import Torch

extension Doctor {
    /// What the NVIDIA driver and this libtorch say of the GPU, asked separately so that each failure names its
    /// cause: no driver, a CPU-only libtorch, or a driver that libtorch cannot use.
    struct GPUFindings {
        /// This libtorch has CUDA (PyPI's wheel), whether or not a GPU is there.
        var cudaBuilt: Bool
        /// The driver's CUDA version, or why there is no driver.
        var driver: Result<String, TorchError>
        /// The GPUs the driver describes.
        var gpus: [GPUInfo]
        /// The GPUs libtorch can use.
        var usable: Int
        /// The CUDA runtime and cuDNN this libtorch was built with.
        var versions: (runtime: String, cudnn: String?)?

        /// This process's findings.
        static func here() -> GPUFindings {
            let driver = Result { try GPUInfo.driverVersion() }.mapError { $0 as? TorchError ?? TorchError("\($0)") }
            // A driver that lists GPUs but cannot describe them: none listed here; libtorch's count below still tells.
            let gpus = driver.isSuccess ? ((try? GPUInfo.all()) ?? []) : []
            return GPUFindings(
                cudaBuilt: Torch.isCUDABuilt, driver: driver, gpus: gpus, usable: Torch.cudaDeviceCount,
                versions: Torch.cudaVersions)
        }
    }

    static func gpu() -> Check { gpu(.here()) }

    /// ok with each GPU (name, memory, compute capability, driver, CUDA runtime, cuDNN) when libtorch can use
    /// them, or when neither libtorch nor the machine has CUDA; a CPU-only libtorch on a machine with a GPU warns;
    /// a CUDA build with no driver, or with a driver it cannot use, fails.
    static func gpu(_ found: GPUFindings) -> Check {
        let wheel = "build against PyPI's torch: QUADRAT_LIBTORCH=… (scripts/libtorch2.sh fetch lays it out)"
        switch (found.driver, found.cudaBuilt) {
        case (.failure, false):
            return Check(status: .ok, name: "GPU", detail: "none: no NVIDIA driver, and this libtorch is CPU-only")
        case (.failure(let why), true):
            return Check(
                status: .fail, name: "GPU", detail: "this libtorch has CUDA, but \(why.message)",
                fix: "install the NVIDIA driver, or run with --device cpu")
        case (.success(let version), false):
            let names = found.gpus.map(\.name).joined(separator: ", ")
            return Check(
                status: .warn, name: "GPU",
                detail: "\(names.isEmpty ? "a GPU" : names) (driver CUDA \(version)), but this libtorch is CPU-only",
                fix: wheel)
        case (.success(let version), true):
            let runtime = found.versions.map { "runtime \($0.runtime), cuDNN \($0.cudnn ?? "none")" } ?? "runtime ?"
            guard found.usable > 0 else {
                return Check(
                    status: .fail, name: "GPU",
                    detail: "the driver (CUDA \(version)) sees \(found.gpus.count) GPU(s), libtorch (\(runtime)) none",
                    fix: "a driver at least as new as the CUDA runtime, or a torch wheel built for this driver")
            }
            let lines = found.gpus.map { gpu in
                String(
                    format: "cuda:%d %@, %.1f GiB, compute %d.%d", gpu.index, gpu.name,
                    Double(gpu.memoryBytes) / 1_073_741_824, gpu.capability.major, gpu.capability.minor)
            }
            return Check(
                status: .ok, name: "GPU",
                detail: (lines + ["driver CUDA \(version), \(runtime)"])
                    .joined(separator: "\n" + String(repeating: " ", count: 18)))
        }
    }

    /// The folder libtorch was loaded from, as this process mapped it.
    static func libtorchFolder() -> String? {
        loadedLibraries().first { $0.hasSuffix("/libtorch_cpu.so") || $0.contains("/libtorch_cpu.so.") }
            .map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
    }
}

extension Result {
    fileprivate var isSuccess: Bool { if case .success = self { true } else { false } }
}
