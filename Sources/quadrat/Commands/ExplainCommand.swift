import ArgumentParser
import Foundation
import Learn
import Torch
import Workflow

/// `quadrat explain MODEL IMAGE…`: Grad-CAM heat maps.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show where in each photo the model found its evidence (Grad-CAM heat maps, as PNGs).",
        discussion: """
            For each photo, OUT/NAME-gradcam.png holds what the model sees (the centre crop at its input size) and \
            the same with the heat map over it: bright yellow where the evidence for the class is strongest, dark \
            where there is none. The class probabilities are printed calibrated, with the decision, as predict gives \
            them.

            Example: quadrat explain runs/invasive/model.safetensors ~/invasive/test/12.jpg --out explained
            """
    )

    @OptionGroup var model: ModelArgument
    @Argument(help: "Image files, or one folder of images.")
    var inputs: [String]
    @Option(help: "Folder for the pictures.")
    var out = "explain"
    @Option(name: .customLong("class"), help: "Explain this class for every photo (default: each photo's top class).")
    var className: String?
    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var device: DeviceOptions

    func run() throws {
        Torch.useAllCores()
        let saved = try model.load()
        let photos = try PredictCommand.dataset(inputs).items.map(\.url)
        let explained = try Explanations.run(
            saved, photos: photos, out: URL(fileURLWithPath: out), className: className
        ) { photo, error in Console.warn("skipped \(photo.path): \(error)") }
        guard !explained.isEmpty else { throw WorkflowError("none of the \(photos.count) images could be read") }
        let names = saved.classNames, calibration = saved.calibration(tta: false)
        for e in explained {
            // The same probabilities and decision as `predict` without TTA: calibrated, at the model's threshold.
            let p = calibration?.apply(e.map.probabilities) ?? e.map.probabilities
            let ranked = zip(names, p).sorted { $0.1 > $1.1 }
            let text = ranked.map { "\($0.0) \(ProbabilityText.text($0.1))" }.joined(separator: ", ")
            print(
                "\(e.photo.lastPathComponent): \(text); decided \(names[saved.decide(p)]); heat map for "
                    + "\(names[e.map.classIndex]) → \(e.picture.path)")
        }
    }
}
