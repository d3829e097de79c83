import Foundation
import Testing
import Torch

/// `--device` and `QUADRAT_DEVICE` on the command line: a wrong name is a usage error, a missing GPU an error that
/// names the flag or the variable and says why, before any work starts.
@Suite("quadrat --device", .serialized)
struct DeviceCLITests {
    @Test func aWrongDeviceNameIsAUsageError() throws {
        let run = try quadrat(["lr-find", "/nonexistent", "--device", "gpu"])
        #expect(run.status == 64 && run.errors.contains("'gpu' is invalid for '--device"), "\(run.errors)")
        // INT8 is the CPU's: a GPU asked for with it is refused; QUADRAT_DEVICE alone gives way to it.
        let int8 = try quadrat(["predict", "/x.safetensors", "/y", "--precision", "int8", "--device", "cuda"])
        let refusal = "INT8 (--precision int8, export --int8) runs on the CPU"
        #expect(int8.status == 1 && int8.errors.contains(refusal), "\(int8.errors)")
        let int8Variable = try quadrat(
            ["predict", "/x.safetensors", "/y", "--precision", "int8"], environment: ["QUADRAT_DEVICE": "cuda"])
        #expect(int8Variable.errors.contains("/x.safetensors does not exist"), "\(int8Variable.errors)")
        let variable = try quadrat(["lr-find", "/nonexistent"], environment: ["QUADRAT_DEVICE": "tpu"])
        #expect(variable.status == 1 && variable.errors.contains("QUADRAT_DEVICE=tpu is not cpu, cuda or cuda:N"))
    }

    @Test(.enabled(if: Torch.cudaDeviceCount == 0)) func aMissingGPUStopsTheCommandSayingWhy() throws {
        // A CUDA build says what of the driver: absent, or present with no GPU it can use.
        let reason = Torch.isCUDABuilt ? "NVIDIA driver" : "this libtorch has no CUDA"
        let flag = try quadrat(["lr-find", "/nonexistent", "--device", "cuda:1"])
        #expect(flag.status == 1 && flag.errors.contains("--device cuda:1: ") && flag.errors.contains(reason))
        let variable = try quadrat(
            ["predict", "/nonexistent.safetensors", "/x"], environment: ["QUADRAT_DEVICE": "cuda"])
        #expect(variable.status == 1 && variable.errors.contains("QUADRAT_DEVICE=cuda: "), "\(variable.errors)")
        // The flag wins over the variable; the CPU is always there, so the command goes on to its own error.
        let both = try quadrat(["lr-find", "/nonexistent", "--device", "cpu"], environment: ["QUADRAT_DEVICE": "cuda"])
        #expect(both.status == 1 && both.errors.contains("/nonexistent") && !both.errors.contains("QUADRAT_DEVICE"))
    }
}
