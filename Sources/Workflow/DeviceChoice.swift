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

    /// The device this choice means here, given the GPUs libtorch sees and this process's local rank (torchrun's
    /// `LOCAL_RANK`, which `quadrat launch` sets). `auto` never fails; `cuda` without GPUs is left to
    /// ``Torch/setDefaultDevice(_:)``, whose error says why there are none.
    public func resolved(gpus: Int, localRank: Int) -> Device {
        switch self {
        case .cpu: .cpu
        case .auto: gpus > 0 ? .cuda(localRank % gpus) : .cpu
        case .cuda(nil): .cuda(gpus > 0 ? localRank % gpus : 0)
        case .cuda(let index?): .cuda(index)
        }
    }

    /// What a command without `--device` runs on: nil where `QUADRAT_DEVICE` is set (the shim reads it, and says
    /// why when its device is not there), else auto.
    public static var fromEnvironment: DeviceChoice? {
        ProcessInfo.processInfo.environment["QUADRAT_DEVICE"] == nil ? .auto : nil
    }

    /// Resolves the choice and makes it the default device of this process (and, on a GPU, turns on cuDNN's
    /// autotuning: Quadrat's shapes repeat batch after batch). Returns the device.
    @discardableResult
    public func apply() throws -> Device {
        let localRank = ProcessInfo.processInfo.environment["LOCAL_RANK"].flatMap(Int.init) ?? 0
        let device = resolved(gpus: Torch.cudaDeviceCount, localRank: localRank)
        do {
            try Torch.setDefaultDevice(device)
        } catch {
            throw WorkflowError("--device \(self): \(error)")
        }
        if device.isCUDA { Torch.setCuDNNBenchmark(true) }
        return device
    }
}
