import Foundation
import Testing
import Torch

/// The device seam: names, copies, the default device, and the errors that say why a GPU is not there. The
/// GPU tests run where libtorch sees one (scripts/gpu_check.sh); everywhere else the CPU path and the errors run.
@Suite("Devices", .serialized)
struct DeviceTests {
    @Test func namesParseAndPrint() {
        #expect(Device("cpu") == .cpu && Device("CPU") == .cpu)
        #expect(Device("cuda") == .cuda(0) && Device("cuda:3") == .cuda(3) && Device("CUDA:1") == .cuda(1))
        for bad in ["gpu", "cuda:", "cuda:-1", "cuda:+1", "cuda:x", "cuda:1:2", "", "mps"] {
            #expect(Device(bad) == nil, "\(bad)")
        }
        #expect(Device.cuda(2).description == "cuda:2" && Device.cpu.description == "cpu")
    }

    static let environmentDevice = ProcessInfo.processInfo.environment["QUADRAT_DEVICE"]

    /// New tensors are made on the CPU by default, and a copy to the CPU is the same values.
    @Test(.enabled(if: environmentDevice == nil)) func tensorsLiveOnTheCPUByDefault() throws {
        #expect(Torch.defaultDevice == .cpu)
        let t = try Tensor([Float(1), 2, 3], shape: [3])
        #expect(try t.device() == .cpu)
        #expect(try t.to(.cpu).toArray(Float.self) == [1, 2, 3])
        #expect(try Tensor.zeros([2]).device() == .cpu && Tensor.arange(0, 3).device() == .cpu)
    }

    /// Without a GPU, asking for one fails with the reason (a CPU-only libtorch, no driver, too few GPUs) and
    /// leaves the CPU the default.
    @Test(.enabled(if: Torch.cudaDeviceCount == 0)) func askingForAMissingGPUSaysWhy() throws {
        let reason = Torch.isCUDABuilt ? "driver" : "CPU-only"
        do {
            try Torch.setDefaultDevice(.cuda(0))
            Issue.record("cuda:0 was accepted without a GPU")
        } catch let error as TorchError {
            #expect(error.message.contains(reason), "\(error.message)")
        }
        #expect(Torch.defaultDevice == .cpu)
        #expect(throws: TorchError.self) { try Tensor([Float(1)]).to(.cuda(0)) }
        #expect(Torch.isCUDABuilt == (Torch.cudaVersions != nil))
    }

    /// On a GPU: tensors are made there, arithmetic agrees with the CPU's, values read back through the host,
    /// and bfloat16 or float16 autocast runs.
    @Test(.enabled(if: Torch.cudaDeviceCount > 0)) func aGPUComputesWhatTheCPUComputes() throws {
        Torch.manualSeed(3)
        let a = try Tensor.randn([64, 32]).to(.cpu), b = try Tensor.randn([32, 16]).to(.cpu)
        let previous = Torch.defaultDevice
        try Torch.setDefaultDevice(.cpu)
        let expected = try a.matmul(b).toArray(Float.self)
        try Torch.setDefaultDevice(.cuda(0))
        defer { try? Torch.setDefaultDevice(previous) }  // as it was, for the suites after this one
        let made = try Tensor.zeros([2])
        #expect(try made.device() == .cuda(0) && Tensor([Float(1)]).device() == .cuda(0))
        let ga = try a.to(.cuda(0)), gb = try b.to(.cuda(0), nonBlocking: true)
        let product = try ga.matmul(gb).toArray(Float.self)
        // TF32 or a different summation order: close, not equal.
        let worst = zip(product, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .infinity
        #expect(worst < 1e-2, "GPU matmul differs from the CPU's by \(worst)")
        let mixed = try Torch.withAutocast { try ga.matmul(gb) }
        #expect(try mixed.dtype == Torch.autocastType && mixed.device() == .cuda(0))
        try Torch.synchronize()
    }
}
