import Foundation
import Learn
import Vision

extension SavedModel {
    /// The options the model was trained with, from its metadata (nil for files without them).
    /// Models written before options were saved have none; a present but unreadable entry is an error.
    public func trainOptions() throws -> TrainOptions? {
        guard let text = metadata["options"] else { return nil }
        do {
            return try TrainOptions.reading(stored: Data(text.utf8))
        } catch {
            throw WorkflowError("the model's training options cannot be read: \(error)")
        }
    }

    /// The label column name the model was trained with (for the Kaggle header), default "label". Recorded in
    /// the model file at training time; older files fall back to re-reading the training CSV.
    public func labelColumnName() throws -> String {
        if let recorded = metadata["label_column"] { return recorded }
        guard let o = try trainOptions() else { return "label" }
        return o.labelColumn ?? Self.labelColumn(inData: URL(fileURLWithPath: o.data)) ?? "label"
    }

    /// The second header field of a Kaggle-layout folder's labels CSV (nil for class folders, or data gone).
    static func labelColumn(inData data: URL) -> String? {
        for name in ["train_labels.csv", "labels.csv"] {
            // The training data may have moved or changed since: then there is no answer.
            if let table = try? CSVTable(url: data.appendingPathComponent(name)), table.header.count > 1 {
                return table.header[1]
            }
        }
        // A labels CSV given as DATA itself.
        if let table = try? CSVTable(url: data), table.header.count > 1 { return table.header[1] }  // not a CSV: none
        return nil
    }

    /// Readies the model for predicting in `precision` and says whether to run in bfloat16 autocast: `.int8` runs
    /// every body in INT8 from now on (with the calibration beside the model, ``SavedModel/quantize()``); `.bf16`
    /// and `.fp32` are forced; `.auto` takes bf16 only when training kept it for this model (its validation
    /// predictions agreed with fp32's, ``PrecisionAgreement``) and this machine measured bf16 faster (its stored
    /// profile), else float32. `auto` never picks INT8: it changes the answers, so it is used only when asked for.
    public func prepareInference(_ precision: Precision) throws -> Bool {
        switch precision {
        case .fp32: return false
        case .bf16: return true
        case .int8:
            try quantize()
            return false
        case .auto:
            guard let options = try trainOptions(), options.recipe.inferenceMixedPrecision else { return false }
            let profile = MachineProfile.stored(architecture: architecture, size: size, batchSize: options.batchSize)
            return profile?.infersInBF16(.auto) ?? false
        }
    }

    /// The TTA views `--tta` uses: as many as the model was validated with (4 when it was validated without).
    public func ttaViews() throws -> Int {
        let views = try trainOptions()?.recipe.ttaViews ?? 4
        return views > 0 ? views : 4
    }

    /// The augmentation the model was trained with (side-on for files that do not say): its TTA views.
    public func augmentation() throws -> Augmentation { try trainOptions()?.augmentationSettings ?? .sideOn }
}
