import ArgumentParser
import Foundation
import Workflow

/// The arguments of commands that score a saved model on labelled data (`evaluate`, `interpret`).
struct LabelledDataArguments: ParsableArguments {
    @OptionGroup var model: ModelArgument
    @Argument(help: "A labelled data folder (Kaggle layout or class folders) or a labels CSV.") var data: String
    @Flag(help: "Test-time augmentation (the plain image and the views the model was validated with).") var tta = false
    @Option(help: ArgumentHelp(Precision.inferenceHelp))
    var precision: Precision = .auto
    @OptionGroup var columns: CSVColumns
    @OptionGroup var limits: ImageLimitOptions

    /// The model's predictions on the data.
    func predictions() throws -> LabelledPredictions {
        try LabelledPredictions(
            model: model.url, data: URL(fileURLWithPath: data),
            nameColumn: columns.nameColumn, labelColumn: columns.labelColumn, tta: tta, precision: precision)
    }
}

extension Precision {
    /// `--precision`'s help on the commands that predict.
    static let inferenceHelp =
        "auto (what `train` measured on this machine; fp32 before that), fp32, bf16, or int8 (the body quantized, "
        + "with the calibration `train` or `quadrat quantize` wrote beside the model: faster, answers change a little)."
}
