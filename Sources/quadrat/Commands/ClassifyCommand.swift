import ArgumentParser
import Foundation
import Torch
import Vision

/// `quadrat classify IMAGE...`: ImageNet top-5 with a pretrained backbone, the first thing to run.
struct ClassifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classify",
        abstract: "Name the ImageNet classes in photos with a pretrained network (top 5).",
        discussion: "Example: quadrat classify ~/.cache/quadrat/samples/chelsea.png"
    )

    @Argument(help: "JPEG or PNG files.")
    var images: [String]

    @Option(help: "Architecture: \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
    var arch: String = Architecture.efficientNetLite0.rawValue

    @Option(help: "Checkpoint file (needed for the ResNets; default: the bundled weights).")
    var weights: String?

    @Option(help: "How many classes to show per image.")
    var top: Int = 5

    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        Torch.useAllCores()
        let architecture = try Architecture(named: arch)
        let network = try architecture.pretrainedImageNetNetwork(weights: weights.map { URL(fileURLWithPath: $0) })
        try network.prepareForInference()
        let size = architecture.defaultSize
        let decoder = ImageDecoder(minimumSide: Int(Double(size) / 0.875))
        var failures = 0
        for path in images {
            do {
                let image = try decoder.decode(URL(fileURLWithPath: path))
                let x = try architecture.normalization.apply(Resize.evaluationView(image, size: size).unsqueezed(0))
                let probabilities = try Torch.inferenceMode {
                    try Functional.softmax(network(x.contiguous(.channelsLast)), dim: 1)[0]
                }
                let (values, indices) = try probabilities.topk(min(top, 1000))
                print(path)
                for (p, i) in zip(try values.floats(), try indices.toArray(Int64.self)) {
                    print(String(format: "  %5.1f%%  ", p * 100) + imageNetClasses[Int(i)])
                }
            } catch {
                failures += 1
                FileHandle.standardError.write(Data("quadrat: \(error)\n".utf8))
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }
}
