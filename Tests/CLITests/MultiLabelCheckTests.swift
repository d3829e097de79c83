import Foundation
import TestSupport
import Testing

/// `check --task multi-label` lists the label vocabulary and refuses a label used once, exit 1.
@Suite("check on multi-label data")
struct MultiLabelCheckTests {
    @Test func vocabularyAndALabelUsedOnce() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        let csv = data.appendingPathComponent("train_labels.csv")
        try "name,tags\n1,mono defective\n2,mono\n3,poly defective\n4,poly\n5,\n6,mono poly\n".write(
            to: csv, atomically: true, encoding: .utf8)
        let clean = try quadrat(["check", data.path, "--task", "multi-label", "--no-duplicates"])
        #expect(clean.status == 0, "\(clean.output) \(clean.errors)")
        #expect(
            clean.output.contains("6 images, 3 labels (defective: 2, mono: 3, poly: 3); 1 with no label")
                && clean.output.contains("no problems found"), "\(clean.output)")
        #expect(
            clean.output.contains("a 20 % validation part (iterative stratification, seed 42): ")
                && clean.output.contains(" of 2, mono "), "\(clean.output)")
        try "name,tags\n1,mono|cracked\n2,mono\n3,poly\n4,poly\n5,mono\n6,poly\n".write(
            to: csv, atomically: true, encoding: .utf8)
        let once = try quadrat([
            "check", data.path, "--task", "multi-label", "--label-delimiter", "|", "--no-duplicates",
        ])
        // Named once, with its line: not again by the training rule.
        #expect(
            once.status == 1 && once.output.contains("1 problem(s)")
                && once.output.contains("label 'cracked' is used by this photo only"), "\(once.output)")
    }

    /// `check --task multi-label` reads the label sets and then does what `check` does for any data: the duplicate
    /// search (with its clusters file) and the quarantine of a photo that cannot be read.
    @Test func copiesAndBrokenPhotosAreFoundInMultiLabelData() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        let train = data.appendingPathComponent("train")
        try FileManager.default.removeItem(at: train.appendingPathComponent("6.jpg"))
        try FileManager.default.copyItem(
            at: train.appendingPathComponent("1.jpg"), to: train.appendingPathComponent("6.jpg"))
        try Data("not a photo".utf8).write(to: train.appendingPathComponent("5.jpg"))
        try "name,tags\n1,mono defective\n2,mono\n3,poly defective\n4,poly\n5,mono\n6,poly\n".write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let (clusters, bad) = (data.appendingPathComponent("clusters.csv"), data.appendingPathComponent("bad"))
        let check = try quadrat([
            "check", data.path, "--task", "multi-label", "--near-duplicates", clusters.path, "--quarantine", bad.path,
        ])
        #expect(check.status == 1, "\(check.output) \(check.errors)")
        #expect(check.output.contains("6 images, 3 labels (defective: 2, mono: 3, poly: 3)"), "\(check.output)")
        #expect(check.output.contains("with a byte-identical twin"), "\(check.output)")
        #expect(check.output.contains("moved 1 unreadable image(s)"), "\(check.output)")
        #expect(FileManager.default.fileExists(atPath: bad.appendingPathComponent("train/5.jpg").path))
        let rows = try String(contentsOf: clusters, encoding: .utf8).split(separator: "\n")
        #expect(rows.contains { $0.hasSuffix(",exact") }, "\(rows)")
    }

    /// A per-label `--target-recall` names labels of the data, and only a multi-label run takes one; both are
    /// refused before any photo is read for training.
    @Test func aPerLabelRecallNamesLabelsOfTheData() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        try "name,tags\n1,mono defective\n2,mono\n3,poly defective\n4,poly\n5,mono\n6,poly\n".write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let out = data.appendingPathComponent("run").path
        let unknown = try quadrat([
            "train", data.path, "--out", out, "--task", "multi-label", "--target-recall", "cracked=0.9",
        ])
        #expect(
            unknown.status != 0 && unknown.errors.contains("--target-recall")
                && unknown.errors.contains("names cracked, which is not a label"), "\(unknown.status) \(unknown.errors)"
        )
        let single = try quadrat(["train", data.path, "--out", out, "--target-recall", "mono=0.9"])
        #expect(single.status == 64 && single.errors.contains("only a multi-label model has"), "\(single.errors)")
        let range = try quadrat([
            "train", data.path, "--out", out, "--task", "multi-label", "--target-recall", "mono=2",
        ])
        #expect(range.status == 64 && range.errors.contains("at most 1, not 2"), "\(range.errors)")
    }
}
