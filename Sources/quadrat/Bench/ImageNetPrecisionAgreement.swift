import Foundation
import Torch
import Vision
import Workflow

/// How often the bfloat16 inference copy picks the same ImageNet top-1 class as float32,
/// on real photos: the set-up samples and the first ELPV images.
enum ImageNetPrecisionAgreement {
    static func run(architecture: Architecture = .efficientNetLite0, limit: Int = 256) throws {
        var files = ["chelsea.png", "coffee.png"].map { QuadratPaths.home.appendingPathComponent("samples/\($0)") }
        let elpv = QuadratPaths.elpv.appendingPathComponent("images")
        // ELPV is optional here: without it (no `make setup`), the check runs on the generated images only.
        if let names = try? FileManager.default.contentsOfDirectory(atPath: elpv.path) {
            files += names.sorted().prefix(limit).map { elpv.appendingPathComponent($0) }
        }
        files = files.filter { FileManager.default.fileExists(atPath: $0.path) }
        guard !files.isEmpty else {
            emit("precision agreement: no photos found (run `make setup`)")
            return
        }
        let fp32 = try architecture.pretrainedImageNetNetwork()
        try fp32.prepareForInference()
        let bf16 = try architecture.pretrainedImageNetNetwork()
        try bf16.prepareForInference(dtype: .bfloat16)
        let size = architecture.defaultSize
        let decoder = ImageDecoder(minimumSide: size)
        var same = 0, worst = 0.0
        for chunk in stride(from: 0, to: files.count, by: 32) {
            let views = try files[chunk..<min(chunk + 32, files.count)].map {
                try architecture.normalization.apply(
                    Resize.evaluationView(decoder.decode($0), size: size).unsqueezed(0))
            }
            let x = try Tensor.cat(views).contiguous(.channelsLast)
            let (p32, p16) = try Torch.inferenceMode {
                (
                    try Functional.softmax(fp32(x), dim: 1),
                    try Functional.softmax(bf16(x.to(.bfloat16)).to(.float32), dim: 1)
                )
            }
            let a = try p32.argmax(dim: 1).toArray(Int64.self), b = try p16.argmax(dim: 1).toArray(Int64.self)
            same += zip(a, b).filter { $0 == $1 }.count
            worst = max(worst, try (p32 - p16).abs().max().item())
        }
        emit(
            String(
                format:
                    "%@ bfloat16 vs float32 on %d real photos: top-1 agreement %.1f%%, largest probability difference %.3f",
                architecture.rawValue, files.count, 100 * Double(same) / Double(files.count), worst))
    }
}
