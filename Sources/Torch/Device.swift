import CTorch

/// Where tensors live and run: the CPU, or one CUDA GPU (`cuda:N`).
///
/// Quadrat names a device once, at start-up, with ``Torch/setDefaultDevice(_:)`` (PyTorch's
/// `torch.set_default_device`): every tensor made afterwards, model weights and optimizer state included, is made
/// there, so no code above `Torch` needs to carry a device around. Reading a tensor's values
/// (``Tensor/toArray(_:)``, ``Tensor/item()``) brings them to the host whatever the device.
public enum Device: Hashable, Sendable, CustomStringConvertible {
    case cpu
    case cuda(Int)

    /// "cpu", "cuda" (GPU 0) or "cuda:N"; nil for anything else.
    public init?(_ text: String) {
        let lowered = text.lowercased()
        if lowered == "cpu" {
            self = .cpu
        } else if lowered == "cuda" {
            self = .cuda(0)
        } else if lowered.hasPrefix("cuda:"), lowered.count > 5,
            lowered.dropFirst(5).allSatisfy({ $0.isASCII && $0.isNumber }),
            let index = Int(lowered.dropFirst(5))
        {
            self = .cuda(index)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .cuda(let index): "cuda:\(index)"
        }
    }

    public var isCUDA: Bool { if case .cuda = self { true } else { false } }

    var codes: (type: Int32, index: Int32) {
        switch self {
        case .cpu: (Int32(QT_DEVICE_CPU), -1)
        case .cuda(let index): (Int32(QT_DEVICE_CUDA), Int32(index))
        }
    }

    init(type: Int32, index: Int32) {
        self = type == Int32(QT_DEVICE_CUDA) ? .cuda(Int(max(0, index))) : .cpu
    }
}

extension Torch {
    /// The device new tensors are made on: the one `QUADRAT_DEVICE` names (cpu, cuda, cuda:N), else the CPU,
    /// until ``setDefaultDevice(_:)`` says otherwise. A `QUADRAT_DEVICE` that is not there reads as the CPU here;
    /// ``checkedDefaultDevice()`` and every tensor creation report it.
    public static var defaultDevice: Device {
        (try? checkedDefaultDevice()) ?? .cpu
    }

    /// The default device, or the error that makes every creation fail (`QUADRAT_DEVICE=cuda` without a GPU).
    public static func checkedDefaultDevice() throws -> Device {
        var type: Int32 = 0, index: Int32 = 0
        guard qt_default_device(&type, &index) == 0 else { throw TorchError.last() }
        return Device(type: type, index: index)
    }

    /// Makes `device` the default for every tensor made from now on, and CUDA's current device (with cuDNN's
    /// autotuning, `cudnn.benchmark`, on). Throws, saying why, when the device is not there: a CPU-only libtorch
    /// (Debian's), no NVIDIA driver, too few GPUs.
    public static func setDefaultDevice(_ device: Device) throws {
        let (type, index) = device.codes
        if qt_set_default_device(type, index) != 0 { throw TorchError.last() }
    }

    /// Whether this libtorch was built with CUDA (PyPI's `torch` wheel), GPU or not.
    public static var isCUDABuilt: Bool { qt_cuda_built() == 1 }

    /// GPUs this libtorch can use: 0 with Debian's CPU-only libtorch, or without a driver.
    public static var cudaDeviceCount: Int { Int(qt_cuda_device_count()) }

    /// The CUDA runtime and cuDNN versions this libtorch was built with, as numbers ("13.2", "9.26.0"); nil for
    /// a CPU-only libtorch.
    public static var cudaVersions: (runtime: String, cudnn: String?)? {
        var runtime: Int64 = 0, cudnn: Int64 = 0
        guard qt_cuda_versions(&runtime, &cudnn) == 0 else {
            qt_clear_error()
            return nil
        }
        let cudnnText = cudnn > 0 ? "\(cudnn / 10_000).\(cudnn / 100 % 100).\(cudnn % 100)" : nil
        return ("\(runtime / 1000).\(runtime % 1000 / 10)", cudnnText)
    }

    /// Waits for the work queued on the default device (a no-op on the CPU): for timing a GPU honestly.
    public static func synchronize() throws {
        if qt_synchronize() != 0 { throw TorchError.last() }
    }

    /// The type autocast uses on the default device: bfloat16 on the CPU and on GPUs of compute capability 8.0
    /// and above (Ampere on), float16 before them (which needs a ``GradScaler`` in training).
    public static var autocastType: DType {
        guard case .cuda(let index) = defaultDevice else { return .bfloat16 }
        return computeCapabilities.withLock { known in
            let major =
                known[index]
                ?? {
                    // A GPU libtorch uses but the driver cannot describe: assume one before Ampere, whose float16
                    // (with loss scaling) every GPU runs, rather than bfloat16, which older ones do not.
                    let found = (try? GPUInfo.describe(index).capability.major) ?? 7
                    known[index] = found
                    return found
                }()
            return major >= 8 ? .bfloat16 : .float16
        }
    }

    /// Each GPU's compute capability (major), asked of the driver once: autocast asks at every forward pass.
    private static let computeCapabilities = Locked<[Int: Int]>([:])
}

extension Tensor {
    /// The device this tensor lives on.
    public func device() throws -> Device {
        var type: Int32 = 0, index: Int32 = 0
        if qt_tensor_device(handle, &type, &index) != 0 { throw TorchError.last() }
        return Device(type: type, index: index)
    }

    /// This tensor on `device` (itself when it is there already). `nonBlocking` lets the host go on while a copy
    /// from pinned memory runs.
    public func to(_ device: Device, nonBlocking: Bool = false) throws -> Tensor {
        let (type, index) = device.codes
        return try wrap(qt_to_device(handle, type, index, nonBlocking ? 1 : 0))
    }
}

/// A GPU as the NVIDIA driver describes it, asked of the driver directly (libcuda), whichever libtorch runs:
/// what `doctor` reports.
public struct GPUInfo: Sendable {
    public let index: Int
    public let name: String
    public let memoryBytes: UInt64
    public let capability: (major: Int, minor: Int)

    public init(index: Int, name: String, memoryBytes: UInt64, capability: (major: Int, minor: Int)) {
        (self.index, self.name, self.memoryBytes, self.capability) = (index, name, memoryBytes, capability)
    }

    /// The driver's CUDA version ("13.0"); throws "no NVIDIA driver…" when there is none.
    public static func driverVersion() throws -> String {
        let version = qt_driver_version()
        guard version >= 0 else { throw TorchError.last() }
        return "\(version / 1000).\(version % 1000 / 10)"
    }

    /// Every GPU the driver sees; throws when there is no driver.
    public static func all() throws -> [GPUInfo] {
        let count = qt_driver_device_count()
        guard count >= 0 else { throw TorchError.last() }
        return try (0..<Int(count)).map(describe)
    }

    /// GPU `index`.
    public static func describe(_ index: Int) throws -> GPUInfo {
        var name = [CChar](repeating: 0, count: 256)
        var memory: UInt64 = 0
        var major: Int32 = 0, minor: Int32 = 0
        guard qt_driver_device_info(Int32(index), &name, Int32(name.count), &memory, &major, &minor) == 0 else {
            throw TorchError.last()
        }
        let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return GPUInfo(index: index, name: text, memoryBytes: memory, capability: (Int(major), Int(minor)))
    }
}
