import Foundation
import Vision

/// The data: class counts (split into training and validation when the report is a run's; the unlabelled test
/// folder when there is one), image sizes, seeded random samples per class, brightness and the augmentation
/// preview.
enum DatasetSection {
    /// The samples drawn per class, and the seed that draws them (the same photos on every run).
    static let samplesPerClass = 8, sampleSeed: UInt64 = 42

    static func html(
        _ dataset: ImageDataset, validSet: ImageDataset?, test: ImageDataset? = nil, testLabelled: Bool = false,
        cache: PresizeCache?
    ) -> String {
        var html = "<section id='dataset'><h2>Data set</h2>"
        let total = max(1, dataset.items.count)
        if let validSet {
            let validCounts = validSet.classCounts
            html += ReportPage.table(
                ["class", "training", "validation", "all", "share"],
                dataset.classes.indices.map { c in
                    let all = dataset.classCounts[c]
                    return [
                        dataset.classes[c], String(all - validCounts[c]), String(validCounts[c]), String(all),
                        String(format: "%.1f%%", 100 * Double(all) / Double(total)),
                    ]
                } + [
                    ["all", String(total - validSet.items.count), String(validSet.items.count), String(total), "100%"]
                ])
        } else {
            html += ReportPage.table(
                ["class", "images", "share"],
                zip(dataset.classes, dataset.classCounts).map {
                    [$0, String($1), String(format: "%.1f%%", 100 * Double($1) / Double(total))]
                })
        }
        if let test, testLabelled {
            let counts = zip(dataset.classes, test.classCounts).map { "\(escape($0)) \($1)" }.joined(separator: ", ")
            html +=
                "<p>Labelled test folder: \(test.items.count) images (\(counts)), held out: train scores the model on "
                + "them after training and chooses nothing with them.</p>"
        } else if let test {
            html += "<p>Unlabelled test folder: \(test.items.count) images.</p>"
        }
        // Statistics of the readable images; the problems section lists the others.
        let sizes = dataset.items.compactMap { try? ImageDecoder.size(of: $0.url) }
        html +=
            "<div class='charts'>"
            + SVG.histogram(sizes.map { Double($0.width) }, title: "Image widths", xLabel: "pixels")
            + SVG.histogram(sizes.map { Double($0.height) }, title: "Image heights", xLabel: "pixels", color: "#ff7f0e")
        if let test {
            let testSizes = test.items.compactMap { try? ImageDecoder.size(of: $0.url) }
            html += SVG.histogram(
                testSizes.map { Double($0.width) }, title: "Test image widths", xLabel: "pixels", color: "#2ca02c")
        }
        html += "</div>"
        for (c, name) in dataset.classes.enumerated() {
            var random = SeededRandom(seed: sampleSeed &+ UInt64(c))
            let samples = dataset.items.filter { $0.has(class: c) }.shuffled(using: &random).prefix(samplesPerClass)
            html +=
                "<h3>Random samples: \(escape(name))</h3><div class='grid'>"
                + samples.map { ReportPage.figure($0, caption: $0.name, cache: cache, style: "") }.joined() + "</div>"
        }
        return html + "</section>"
    }

    /// Each class's mean brightness, with the hint when brightness alone separates classes.
    static func brightness(_ summary: BrightnessSummary, classes: [String]) -> String {
        var html = "<section id='brightness'><h2>Brightness</h2>"
        html += ReportPage.table(
            ["class", "images measured", "mean luma (0–255)", "standard deviation"],
            classes.indices.filter { $0 < summary.counts.count }.map { i in
                [
                    classes[i], String(summary.counts[i]), String(format: "%.1f", summary.means[i]),
                    String(format: "%.1f", summary.deviations[i]),
                ]
            })
        if let hint = summary.hint(classes: classes) {
            html += "<p>\(escape(hint.prefix(1).uppercased() + hint.dropFirst())).</p>"
        }
        return html + "</section>"
    }

    /// One row per class: a photo as the model sees it, then augmented views of it.
    static func augmentationPreview(_ rows: [(String, [RGBImage])]) -> String {
        var html =
            "<section id='augmentation'><h2>Augmentation preview</h2><p class='note'>The first picture of each row is "
            + "the validation view (the square the model sees: crop, squish or pad, as --resize says); the others are "
            + "what training sees of the same photo.</p>"
        for (name, pictures) in rows {
            html += "<h3>\(escape(name))</h3><div class='grid'>"
            for (k, picture) in pictures.enumerated() {
                // A view that cannot be encoded is left out of the preview.
                guard let jpeg = try? ImageEncoder.jpeg(picture, quality: 85) else { continue }
                html +=
                    "<figure tabindex='0'><img alt='' src='data:image/jpeg;base64,\(jpeg.base64EncodedString())'>"
                    + "<figcaption>\(k == 0 ? "validation view" : "augmented \(k)")</figcaption></figure>"
            }
            html += "</div>"
        }
        return html + "</section>"
    }
}
