import Foundation
import Learn
import Torch
import Vision

/// `quadrat predict`'s job: a model's predictions for photos, in the chosen format, for the whole listing or one
/// shard of it (`--shard i/N`, or this rank's part when `group` is set: the ranks' rows are gathered to rank 0, which
/// alone gets the text). Photos that cannot be read are said and left out; for up to 10 photos, what each is said
/// in words (the Kaggle format shows only a probability).
public struct PredictionJob {
    public var model: SavedModel
    public var tta = false
    public var precision = Precision.auto
    public var format = SubmissionFormat.kaggle
    public var shard: PredictionShards.Shard?
    public var group: ProcessGroup?
    /// Where to write one row per burst (``EventTable``) and the burst gap in seconds; nil: no event table.
    public var events: (url: URL, gap: Double, emptyClass: Int?)?
    /// Compare the photos with the training ones (``DeploymentCheck``) when the model has a reference.
    public var driftCheck = true
    /// Where to write each photo's deployment-check figures.
    public var driftReport: URL?

    public init(model: SavedModel) { self.model = model }

    /// Asks for the event table at `url`: photos within `gap` of each other by one camera are one event, and
    /// `emptyClass` (a class name of the model) is the answer only when every photo of the event has it.
    public mutating func writeEvents(to url: URL, gap: TimeSpan, emptyClass: String?) throws {
        guard !model.task.task.decidesEachClass else {
            throw WorkflowError("--events decides one class per burst: it is for single-label models")
        }
        var empty: Int?
        if let emptyClass {
            guard let index = model.classes.firstIndex(of: emptyClass) else {
                throw WorkflowError(
                    "--empty-class \(emptyClass) is not a class of the model (\(model.classes.joined(separator: ", ")))"
                )
            }
            empty = index
        }
        events = (url, gap.seconds, empty)
    }

    /// The text to write and its row count; nil on ranks other than 0.
    public func run(_ listing: ImageDataset, say: (String) -> Void) throws -> (text: String, count: Int)? {
        let part = group.map { PredictionShards.Shard(index: $0.rank + 1, count: $0.worldSize) } ?? shard
        let positions = Array(part.map { $0.range(of: listing.items.count) } ?? 0..<listing.items.count)
        var dataset = listing
        dataset.items = positions.map { listing.items[$0] }
        var (probabilities, items, skipped, features) = try model.predict(
            dataset, ttaViews: tta ? model.ttaViews() : 0, augmentation: model.augmentation(),
            mixedPrecision: model.prepareInference(precision), keepingFeatures: keepsFeatures)
        for problem in skipped { say("skipped \(problem)") }
        if let group {
            // Every rank's rows to rank 0, in the listing's order; rank 0 writes the output.
            (probabilities, items) = try PredictionShards.gather(
                probabilities, positions: items.map { positions[$0] }, classes: model.classes.count, group: group)
            guard group.rank == 0 else { return nil }
            dataset = listing
        }
        guard !items.isEmpty else { throw WorkflowError("none of the \(dataset.items.count) images could be read") }
        var unknown: [UnknownMark]?
        if group == nil, part != nil {
            // A part carries each photo's unknown answer (the distance needs no other photo), not the deployment
            // check's verdict on the whole set.
            if driftCheck,
                let check = try? DeploymentCheck.run(  // no reference, or a damaged one: no answer
                    model, items: items.map { dataset.items[$0] }, probabilities: probabilities, features: features),
                check.unknownRate != nil
            {
                unknown = zip(check.distances, check.unknown).map { UnknownMark(distance: $0, isUnknown: $1) }
            }
            let text = PredictionShards.part(
                probabilities: probabilities, items: items.map { dataset.items[$0] },
                positions: items.map { positions[$0] }, classes: model.classes, unknown: unknown)
            return (text, items.count)
        }
        if driftCheck {  // with a group, rank 0 holds every row here
            // The check only informs: its failure (a damaged reference file…) must not cost the predictions.
            do {
                let check = try checkDeployment(
                    items.map { dataset.items[$0] }, probabilities: probabilities, features: features, say: say)
                if let check, check.unknownRate != nil {
                    unknown = zip(check.distances, check.unknown).map { UnknownMark(distance: $0, isUnknown: $1) }
                }
            } catch {
                say("note: no deployment check: \(error)")
            }
        }
        if let events {
            try writeEvents(events, items.map { dataset.items[$0] }, probabilities: probabilities, say: say)
        }
        if items.count <= 10 {
            for (i, p) in zip(items, probabilities) { say("\(dataset.items[i].name): " + inWords(p)) }
        }
        return (try render(probabilities, items.map { dataset.items[$0] }, unknown: unknown), items.count)
    }

    /// One row per burst of the predicted photos to `events.url` (`--events`), said in one line.
    func writeEvents(
        _ events: (url: URL, gap: Double, emptyClass: Int?), _ predicted: [ImageItem], probabilities: [[Double]],
        say: (String) -> Void
    ) throws {
        let table = EventTable.render(
            predicted, probabilities: probabilities, model: model, tta: tta, gap: events.gap,
            emptyClass: events.emptyClass)
        try AtomicFile.write(table.text, to: events.url)
        say(
            "wrote \(table.events) events of \(predicted.count) photos to \(events.url.path)"
                + (table.untimed > 0
                    ? " (\(table.untimed) without an EXIF capture time, each an event of its own)" : ""))
    }

    /// Whether the prediction keeps its features for the deployment check: when a check will run here on this
    /// process's rows (not in a `launch` group, whose rank 0 checks every rank's photos) and a reference lies beside
    /// the model (`train` writes `drift.safetensors` there).
    var keepsFeatures: Bool {
        driftCheck && group == nil && FileManager.default.fileExists(atPath: DriftReference.url(beside: model).path)
    }

    /// What the model says of one photo: "defective (93.1 %)", or a multi-label model's labels with theirs
    /// ("mono 99.2 %, defective 71.0 %", or "none of the labels").
    func inWords(_ p: [Double]) -> String {
        guard let labels = model.decidedLabels(p, tta: tta) else {
            let best = model.decide(p, tta: tta)
            return String(format: "%@ (%.1f %%)", model.classNames[best], 100 * p[best])
        }
        let named = labels.map { String(format: "%@ %.1f %%", model.classNames[$0], 100 * p[$0]) }
        return named.isEmpty ? "none of the labels" : named.joined(separator: ", ")
    }

    /// The deployment check of the predicted photos (``DeploymentCheck``), with their `features` when the prediction
    /// kept them, said in one line; each photo's figures to ``driftReport`` when set.
    @discardableResult
    func checkDeployment(
        _ predicted: [ImageItem], probabilities: [[Double]], features: Tensor? = nil, say: (String) -> Void
    ) throws -> DeploymentCheck? {
        guard
            let check = try DeploymentCheck.run(
                model, items: predicted, probabilities: probabilities, features: features)
        else {
            if driftReport != nil {
                say(
                    "no deployment check: \(model.source.deletingLastPathComponent().path) has no "
                        + "\(DriftReference.fileName) made with this model (models trained before it existed have none)"
                )
            }
            return nil
        }
        say(check.summary)
        if let line = check.unknownSummary { say(line) }
        if let driftReport {
            try AtomicFile.write(
                check.csv(
                    items: predicted, probabilities: probabilities, decide: { model.decide($0, tta: tta) },
                    classes: model.classes), to: driftReport)
            say("wrote the deployment check of each photo to \(driftReport.path)")
        }
        return check
    }

    /// Part files written with `--shard` joined in the listing's order, as one unsharded run writes them.
    public func merged(_ parts: [URL]) throws -> (text: String, count: Int) {
        let (probabilities, items, unknown) = try PredictionShards.merge(parts, classes: model.classes)
        return (try render(probabilities, items, unknown: unknown), items.count)
    }

    func render(_ probabilities: [[Double]], _ items: [ImageItem], unknown: [UnknownMark]? = nil) throws -> String {
        try format.render(
            probabilities: probabilities, items: items, classes: model.classes,
            labelColumn: model.labelColumnName(), decide: { model.decide($0, tta: tta) },
            labels: labelDecisions, unknown: unknown)
    }

    /// A multi-label model's decisions for one photo, its calibration read once (nil for single-label models).
    var labelDecisions: (([Double]) -> [Bool])? {
        guard model.task.task.decidesEachClass else { return nil }
        let calibration = model.labelCalibration(tta: tta)
        let task = model.task.task
        return { p in calibration?.decide(p) ?? task.plainDecisions(p) }
    }
}
