import Foundation
import TestSupport
import Testing
import Vision
import Workflow

/// `check`'s duplicate search as a library job: a training photo's byte copy is an exact cluster, written as CSV,
/// and a test photo copied from training is counted against it.
@Suite("check's duplicate search", .serialized)
struct DuplicateCheckTests {
    @Test func copiesWithinTheDataAndInTheTestFolderAreFound() throws {
        let home = Fixtures.isolatedHome
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let data = try makeKaggleDataSet(trainCount: 12, testCount: 2, size: 48)
        let train = data.appendingPathComponent("train")
        try FileManager.default.copyItem(
            at: train.appendingPathComponent("3.jpg"), to: train.appendingPathComponent("13.jpg"))
        try FileManager.default.removeItem(at: data.appendingPathComponent("test/1.jpg"))
        try FileManager.default.copyItem(
            at: train.appendingPathComponent("5.jpg"), to: data.appendingPathComponent("test/1.jpg"))
        var csv = "name,invasive\n"
        for i in 1...13 { csv += "\(i),\(i == 13 ? 1 : i % 2)\n" }
        try csv.write(to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)

        var search = DuplicateCheck(data: data)
        search.clustersFile = data.appendingPathComponent("clusters.csv")
        var said: [String] = []
        try search.run(DataSource.labelled(data), compareWithTest: true) { said.append($0) }
        #expect(said.contains { $0.contains("2 with a byte-identical twin") }, "\(said)")
        #expect(said.contains { $0.hasPrefix("test/: 1 of 2 photos have a near-duplicate") && $0.contains("1 ≈ 5") })
        let rows = try String(contentsOf: data.appendingPathComponent("clusters.csv"), encoding: .utf8)
        #expect(rows.hasPrefix("cluster,image,kind\n") && rows.contains(",13,exact"), "\(rows)")
        said = []
        try search.run(DataSource.labelled(data), compareWithTest: false) { said.append($0) }
        #expect(!said.contains { $0.hasPrefix("test/:") }, "an unlabelled check compares with no test folder")
    }
}
