import Foundation
import TestSupport
import Testing
import Vision

@Suite(
    "Groups, duplicates and events on the command line", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct GroupsCLITests {
    /// `check` lists a byte-identical copy as an exact cluster (and writes it); `train --group-by site` splits by
    /// site and says so; an unknown column stops the run naming it; `predict --events` writes one row per burst.
    @Test func checkTrainGroupedAndPredictEvents() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 2, size: 48)
        let train = data.appendingPathComponent("train")
        try FileManager.default.copyItem(
            at: train.appendingPathComponent("1.jpg"), to: train.appendingPathComponent("25.jpg"))
        var csv = "name,invasive,site\n"
        for i in 1...25 { csv += "\(i),\(i == 25 ? 1 : i % 2),s\(i % 6)\n" }
        try csv.write(to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)

        let clusters = data.appendingPathComponent("clusters.csv")
        let check = try quadrat(["check", data.path, "--near-duplicates", clusters.path])
        #expect(check.status == 0 && check.output.contains("2 with a byte-identical twin"), "\(check.output)")
        let rows = try String(contentsOf: clusters, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(rows.first == "cluster,image,kind")
        let exact = rows.dropFirst().filter { $0.hasSuffix(",exact") }.map { $0.split(separator: ",")[1] }
        #expect(Set(exact) == ["1", "25"], "\(rows)")

        let unknown = try quadrat([
            "train", data.path, "--out", data.appendingPathComponent("r0").path, "--group-by", "camera",
        ])
        #expect(unknown.status != 0 && unknown.errors.contains("has no column 'camera'"), "\(unknown.errors)")

        let run = data.appendingPathComponent("run")
        let grouped = try quadrat([
            "train", data.path, "--out", run.path, "--size", "32", "--presize", "44", "--batch-size", "8",
            "--epochs", "1", "--head-epochs", "1", "--tta", "0", "--no-lr-find", "--group-by", "site",
        ])
        #expect(grouped.status == 0, "\(grouped.errors)")
        #expect(
            grouped.output.contains("split by 'site': ") && grouped.output.contains("none on both sides"),
            "\(grouped.output)")
        let report = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("split by &#39;site&#39;") || report.contains("split by 'site'"))

        // Without --group-by, the byte-identical pair stays on one side: both in validation, or neither.
        let plain = data.appendingPathComponent("plain")
        let kept = try quadrat([
            "train", data.path, "--out", plain.path, "--size", "32", "--presize", "44", "--batch-size", "8",
            "--epochs", "1", "--head-epochs", "1", "--tta", "0", "--no-lr-find",
        ])
        #expect(kept.status == 0 && kept.output.contains("each kept on one side of the split"), "\(kept.output)")
        let validNames = try String(contentsOf: plain.appendingPathComponent("valid_predictions.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { String($0.split(separator: ",")[0]) }
        #expect(validNames.contains("1") == validNames.contains("25"), "\(validNames)")

        // Four photos: two of camera A 5 s apart, one of A an hour later, one without EXIF: three events.
        let photos = data.appendingPathComponent("trap")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        let source = try Data(contentsOf: train.appendingPathComponent("2.jpg"))
        let times = ["2026:05:01 06:00:00", "2026:05:01 06:00:05", "2026:05:01 07:00:00"]
        for (k, time) in times.enumerated() {
            try jpegWithEXIF(source, model: "A", taken: time).write(to: photos.appendingPathComponent("p\(k).jpg"))
        }
        try source.write(to: photos.appendingPathComponent("p3.jpg"))
        let events = data.appendingPathComponent("events.csv")
        let predict = try quadrat(["predict", run.path, photos.path, "--events", events.path, "--format", "csv"])
        #expect(predict.status == 0 && predict.errors.contains("wrote 3 events of 4 photos"), "\(predict.errors)")
        let table = try String(contentsOf: events, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(table.first == "event,photos,first_taken,last_taken,camera,max_0,max_1,decided,images")
        #expect(table.count == 4 && table[1].hasPrefix("1,2,2026:05:01 06:00:00,2026:05:01 06:00:05,A,"), "\(table)")
        #expect(table[1].hasSuffix(",p0 p1") && table[3].hasPrefix("3,1,,,,"), "\(table)")
    }
}
