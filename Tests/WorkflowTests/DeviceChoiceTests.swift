import Foundation
import Testing
import Torch

@testable import Workflow

/// `--device` and doctor's GPU line: which device each choice means, and what each state of driver and libtorch
/// reports.
@Suite("--device and the GPU check", .serialized)
struct DeviceChoiceTests {
    @Test func choicesParse() {
        #expect(DeviceChoice("auto") == .auto && DeviceChoice("cpu") == .cpu && DeviceChoice("cuda") == .cuda(nil))
        #expect(DeviceChoice("cuda:2") == .cuda(2) && DeviceChoice("gpu") == nil && DeviceChoice("cuda:") == nil)
        #expect(DeviceChoice.cuda(nil).description == "cuda" && DeviceChoice.cuda(1).description == "cuda:1")
    }

    /// auto takes a GPU when there is one; ranks share the GPUs out in turn; an explicit index is kept.
    @Test func choicesResolveToDevices() throws {
        #expect(try DeviceChoice.auto.resolved(gpus: 0, localRank: 0) == .cpu)
        #expect(try DeviceChoice.auto.resolved(gpus: 2, localRank: 1, localRanks: 2) == .cuda(1))
        #expect(try DeviceChoice.cuda(nil).resolved(gpus: 4, localRank: 2, localRanks: 4) == .cuda(2))
        #expect(try DeviceChoice.cuda(nil).resolved(gpus: 0, localRank: 1) == .cuda(0))
        #expect(try DeviceChoice.cuda(3).resolved(gpus: 1, localRank: 0) == .cuda(3))
        #expect(try DeviceChoice.cpu.resolved(gpus: 8, localRank: 0) == .cpu)
        #expect(try DeviceChoice.auto.resolved(gpus: 1, localRank: -4) == .cuda(0))
        // More ranks than GPUs: NCCL cannot put two ranks on one GPU. auto keeps every rank on the CPU; cuda says so.
        #expect(try DeviceChoice.auto.resolved(gpus: 2, localRank: 0, localRanks: 3) == .cpu)
        #expect(throws: WorkflowError.self) {
            try DeviceChoice.cuda(nil).resolved(gpus: 2, localRank: 0, localRanks: 3)
        }
    }

    /// `quadrat launch` tells each rank its place as torchrun does, LOCAL_RANK included, so that `--device cuda`
    /// gives rank r GPU r.
    @Test func launchGivesEachRankItsLocalRank() throws {
        let launcher = Launcher(processes: 3, port: 29_500, threads: 1)
        let environment = launcher.environment(rank: 2, port: 29_500, threads: 1, inheriting: ["PATH": "/bin"])
        #expect(environment["LOCAL_RANK"] == "2" && environment["RANK"] == "2" && environment["WORLD_SIZE"] == "3")
        #expect(environment["LOCAL_WORLD_SIZE"] == "3")
        #expect(environment["MASTER_PORT"] == "29500" && environment["PATH"] == "/bin")
        #expect(environment["QUADRAT_QUIET"] == "1")
        #expect(launcher.environment(rank: 0, port: 1, threads: 1, inheriting: [:])["QUADRAT_QUIET"] == nil)
        let local = Int(environment["LOCAL_RANK"] ?? "") ?? -1
        #expect(try DeviceChoice.cuda(nil).resolved(gpus: 3, localRank: local, localRanks: 3) == .cuda(2))
    }

    /// On a machine without a GPU, `--device cuda` fails naming the flag and the reason; auto and cpu run.
    @Test(.enabled(if: Torch.cudaDeviceCount == 0)) func aMissingGPUIsAnErrorNamingTheFlag() throws {
        #expect(try DeviceChoice.auto.apply() == .cpu && DeviceChoice.cpu.apply() == .cpu)
        do {
            try DeviceChoice.cuda(1).apply()
            Issue.record("cuda:1 was accepted")
        } catch let error as WorkflowError {
            #expect(error.message.hasPrefix("--device cuda:1: "), "\(error.message)")
        }
        #expect(Torch.defaultDevice == .cpu)
    }

    static let h100 = GPUInfo(
        index: 0, name: "NVIDIA H100 80GB HBM3", memoryBytes: 85_520_809_984, capability: (major: 9, minor: 0))

    func findings(built: Bool, driver: String?, gpus: [GPUInfo] = [], usable: Int = 0) -> Doctor.GPUFindings {
        Doctor.GPUFindings(
            cudaBuilt: built,
            driver: driver.map { .success($0) }
                ?? .failure(TorchError("no NVIDIA driver: libcuda.so.1 could not be loaded")),
            gpus: gpus, usable: usable, versions: built ? ("13.2", "9.26.0") : nil)
    }

    /// Each state of driver and libtorch gives its own status, and the failures say what to do.
    @Test func theGPUCheckTellsEachStateApart() {
        let cpuOnly = Doctor.gpu(findings(built: false, driver: nil))
        #expect(cpuOnly.status == .ok && cpuOnly.detail.contains("CPU-only"))
        let noDriver = Doctor.gpu(findings(built: true, driver: nil))
        #expect(noDriver.status == .fail && noDriver.detail.contains("no NVIDIA driver"))
        #expect(noDriver.fix?.contains("--device cpu") == true)
        let unused = Doctor.gpu(findings(built: false, driver: "13.0", gpus: [Self.h100]))
        #expect(
            unused.status == .warn && unused.detail.contains("NVIDIA H100") && unused.fix?.contains("torch") == true)
        let mismatch = Doctor.gpu(findings(built: true, driver: "12.2", gpus: [Self.h100], usable: 0))
        #expect(mismatch.status == .fail && mismatch.detail.contains("sees 1 GPU(s), libtorch (runtime 13.2"))
        let working = Doctor.gpu(findings(built: true, driver: "13.0", gpus: [Self.h100], usable: 1))
        #expect(working.status == .ok)
        #expect(working.detail.contains("cuda:0 NVIDIA H100 80GB HBM3, 79.6 GiB, compute 9.0"))
        #expect(working.detail.contains("driver CUDA 13.0, runtime 13.2, cuDNN 9.26.0"))
    }

    /// This machine's own line agrees with what libtorch says of itself.
    @Test func thisMachinesGPULineMatchesLibtorch() {
        let check = Doctor.gpu()
        if Torch.cudaDeviceCount > 0 {
            #expect(check.status == .ok && check.detail.contains("cuda:0"))
        } else if Torch.isCUDABuilt {
            #expect(check.status == .fail)
        } else {
            #expect(check.status != .fail)
        }
    }
}
