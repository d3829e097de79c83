import Foundation
import Torch

/// What `--device` asks for: `auto` (a GPU when libtorch sees one, else the CPU), `cpu`, `cuda` (this process's
/// GPU: under `quadrat launch`, rank r takes GPU r) or `cuda:N`.
public enum DeviceChoice: Equatable, Sendable, CustomStringConvertible {
    case auto, cpu
    case cuda(Int?)

    public init?(_ text: String) {
        switch text.lowercased() {
        case "auto": self = .auto
        case "cpu": self = .cpu
        case "cuda": self = .cuda(nil)
        default:
            guard case .cuda(let index)? = Device(text) else { return nil }
            self = .cuda(index)
        }
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .cpu: "cpu"
        case .cuda(nil): "cuda"
        case .cuda(let index?): "cuda:\(index)"
        }
    }

    /// The device this choice means here, given the GPUs libtorch sees, this process's local rank and the ranks on
    /// this machine (torchrun's `LOCAL_RANK` and `LOCAL_WORLD_SIZE`, which `quadrat launch` sets). Each rank needs
    /// a GPU of its own (NCCL refuses two ranks on one): `auto` takes the CPU for every rank when there are fewer
    /// GPUs than ranks, and `cuda` is refused then. `cuda` without GPUs is left to ``Torch/setDefaultDevice(_:)``,
    /// whose error says why there are none.
    public func resolved(gpus: Int, localRank: Int, localRanks: Int = 1) throws -> Device {
        let rank = max(0, localRank)
        switch self {
        case .cpu: return .cpu
        case .auto: return gpus > 0 && localRanks <= gpus ? .cuda(rank % gpus) : .cpu
        case .cuda(let index):
            guard gpus == 0 || localRanks <= gpus else {
                throw WorkflowError(
                    "--device \(self): \(localRanks) ranks on this machine need a GPU each, and there are \(gpus) "
                        + "(launch fewer, or --device cpu)")
            }
            return .cuda(index ?? (gpus > 0 ? rank % gpus : 0))
        }
    }

    /// What a command without `--device` runs on: nil where `QUADRAT_DEVICE` is set (the shim reads it, and says
    /// why when its device is not there), else auto.
    public static var fromEnvironment: DeviceChoice? {
        (ProcessInfo.processInfo.environment["QUADRAT_DEVICE"] ?? "").isEmpty ? .auto : nil
    }

    /// Resolves the choice and makes it the default device of this process. Returns the device.
    @discardableResult
    public func apply() throws -> Device {
        let environment = ProcessInfo.processInfo.environment
        let localRank = environment["LOCAL_RANK"].flatMap(Int.init) ?? 0
        let localRanks = environment["LOCAL_WORLD_SIZE"].flatMap(Int.init) ?? 1
        let device = try resolved(gpus: Torch.cudaDeviceCount, localRank: localRank, localRanks: localRanks)
        do {
            try Torch.setDefaultDevice(device)
        } catch {
            throw WorkflowError("--device \(self): \(error)")
        }
        return device
    }
}
