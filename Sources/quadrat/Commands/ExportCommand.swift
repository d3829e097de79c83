import ArgumentParser
import Foundation
import Learn
import Workflow

extension ModelExport.Format: ExpressibleByArgument {}

/// `quadrat export MODEL`: the model for other tools.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained model for other tools: ONNX, or inference weights as safetensors.",
        discussion: """
            onnx: MODEL-inference.onnx, opset 13, for ONNX Runtime, OpenVINO and the like. Input `image`: float32 \
            N×3×SIZE×SIZE, RGB on the 0–255 scale (normalisation is inside the model); outputs `logits` and \
            `probabilities`. BatchNorm is folded. metadata_props hold the classes, size and preprocessing.
            safetensors: MODEL-inference.safetensors (weights only: no optimizer state or history; keys body.* and \
            head.*) and MODEL-inference.json (architecture, classes, input size, normalisation, preprocessing).

            To check an ONNX export against ONNX Runtime, add --parity-sample with a few photos, then run
            scripts/onnx_parity.py (Python with the onnxruntime package).

            Examples:
              quadrat export runs/invasive/model.safetensors --format onnx --out invasive.onnx
              quadrat export runs/invasive/model.safetensors --out invasive.safetensors
            """
    )

    @OptionGroup var model: ModelArgument
    @Option(help: "Output format: \(ModelExport.Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ModelExport.Format = .safetensors
    @Option(help: "Where to write (default: beside MODEL, named MODEL-inference.onnx or .safetensors).")
    var out: String?
    @Option(
        name: .customLong("parity-sample"), parsing: .upToNextOption,
        help: ArgumentHelp(
            "Photos (files, or one folder) to write OUT.parity.safetensors from: the inputs the exported model takes "
                + "and Quadrat's probabilities for them (onnx only).", valueName: "photo"))
    var paritySample: [String] = []
    @Flag(help: "With --format onnx: the body in INT8 (QDQ form), as `--precision int8` runs it.")
    var int8 = false
    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if int8 && format != .onnx { throw ValidationError("--int8 goes with --format onnx") }
        if !paritySample.isEmpty && format != .onnx {
            throw ValidationError("--parity-sample goes with --format onnx")
        }
        // Writing over the file being read would destroy the model before the export could succeed.
        if let out, Self.sameFile(URL(fileURLWithPath: out), model.url) {
            throw ValidationError("--out \(out) is the model being exported: give another file")
        }
    }

    /// Whether two paths name one file (through links or other spellings): the same device and inode.
    static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var first = stat(), second = stat()
        guard stat(a.path, &first) == 0, stat(b.path, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    func run() throws {
        let url = model.url
        let saved = try model.load()
        guard saved.members.count == 1 else {
            throw WorkflowError(
                "\(model.model) is an ensemble of \(saved.members.count) models (train --folds); export one of them, "
                    + "such as fold-1/model.safetensors beside it")
        }
        let target =
            out.map { URL(fileURLWithPath: $0) }
            ?? url.deletingLastPathComponent().appendingPathComponent(
                url.deletingPathExtension().lastPathComponent + (int8 ? "-inference-int8." : "-inference.")
                    + format.fileExtension)
        switch format {
        case .safetensors:
            let (weights, description) = try ModelExport.safetensors(saved, to: target)
            print("weights: \(weights.path)\ndescription: \(description.path)")
        case .onnx:
            try ModelExport.onnx(saved, to: target, int8: int8)
            if int8 { try saved.quantize() }  // the parity sample holds what --precision int8 answers
            print("onnx: \(target.path)")
            if !paritySample.isEmpty {
                let photos = try PredictCommand.dataset(paritySample).items.map(\.url)
                let sample = target.deletingPathExtension().appendingPathExtension("parity.safetensors")
                try ModelExport.paritySample(saved, photos: photos, to: sample)
                print("parity sample (\(photos.count) photos): \(sample.path)")
                print("check: python3 scripts/onnx_parity.py \(target.path) \(sample.path)")
            }
        }
    }
}
