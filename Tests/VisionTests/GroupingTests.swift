import Foundation
import TestSupport
import Testing
import Vision

@Suite("Groups, bursts and EXIF capture times")
struct GroupingTests {
    /// 15 groups of 1–7 photos, classes mixed within groups: grouped folds never split a group, every fold holds
    /// both classes, and the folds' sizes stay near a fifth; the holdout is the first fold.
    @Test func groupedFoldsKeepEveryGroupInOneFold() {
        var labels: [Int] = [], groups: [Int] = []
        var rng = SeededRandom(seed: 3)
        for g in 0..<15 {
            for _ in 0..<(1 + Int(rng.next() % 7)) {
                groups.append(g)
                labels.append(rng.unit() < (g % 3 == 0 ? 0.8 : 0.3) ? 1 : 0)
            }
        }
        let folds = Split.groupedFolds(labels: labels, groups: groups, folds: 5, seed: 42)
        for g in 0..<15 {
            #expect(Set(groups.indices.filter { groups[$0] == g }.map { folds[$0] }).count == 1, "group \(g) split")
        }
        for k in 0..<5 {
            let members = labels.indices.filter { folds[$0] == k }
            #expect(Set(members.map { labels[$0] }).count == 2, "fold \(k) lacks a class")
            #expect(abs(Double(members.count) - Double(labels.count) / 5) <= 6, "fold \(k): \(members.count)")
        }
        let split = Split.grouped(labels: labels, groups: groups, fraction: 0.2, seed: 42)
        #expect((0..<5).contains { k in split.valid == labels.indices.filter { folds[$0] == k } })
        #expect(Set(split.train.map { groups[$0] }).isDisjoint(with: split.valid.map { groups[$0] }))
        // Seeded: the same folds again; another seed, other folds.
        #expect(Split.groupedFolds(labels: labels, groups: groups, folds: 5, seed: 42) == folds)
        #expect(Split.groupedFolds(labels: labels, groups: groups, folds: 5, seed: 7) != folds)
    }

    /// The group column is read by photo name; a missing column names the header, an empty cell its line, and
    /// class folders say that a CSV is needed.
    @Test func groupColumnErrorsNameTheColumnAndTheLine() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 16)
        let csv = data.appendingPathComponent("train_labels.csv")
        try "name,invasive,site\n1,1,a\n2,0,a\n3,1,b\n4,0,b\n5,1,c\n6,0,c\n".write(
            to: csv, atomically: true, encoding: .utf8)
        let dataset = try DataSource.labelled(data)
        #expect(try GroupColumn.values("site", of: dataset) == ["a", "a", "b", "b", "c", "c"])
        #expect(throws: DataProblem.self) { try GroupColumn.values("camera", of: dataset) }
        do {
            _ = try GroupColumn.values("camera", of: dataset)
        } catch let problem as DataProblem {
            #expect(
                problem.description.contains("no column 'camera'")
                    && problem.description.contains("name, invasive, site"))
        }
        try "name,invasive,site\n1,1,a\n2,0,\n3,1,b\n4,0,b\n5,1,c\n6,0,c\n".write(
            to: csv, atomically: true, encoding: .utf8)
        do {
            _ = try GroupColumn.values("site", of: try DataSource.labelled(data))
            Issue.record("an empty group was accepted")
        } catch let problem as DataProblem {
            #expect(problem.line == 3 && problem.description.contains("no 'site' value for '2'"), "\(problem)")
        }
        let folders = try Fixtures.temporaryFolder()
        for (c, name) in ["cat", "dog"].enumerated() {
            let folder = folders.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 0..<2 {
                let image = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: UInt8(60 * c + i), count: 192))
                try ImageEncoder.jpeg(image).write(to: folder.appendingPathComponent("\(i).jpg"))
            }
        }
        #expect(throws: DataProblem.self) { try GroupColumn.values("site", of: try DataSource.labelled(folders)) }
    }

    /// Model and DateTimeOriginal from a JPEG's EXIF; damaged offsets and a malformed date read as absent.
    @Test func exifCaptureTimeAndCameraModel() throws {
        let image = RGBImage(width: 8, height: 8, pixels: [UInt8](repeating: 90, count: 192))
        let plain = try ImageEncoder.jpeg(image)
        let tagged = [UInt8](jpegWithEXIF(plain, model: "TrailCam-07", taken: "2026:05:01 12:00:03"))
        let tags = EXIF.tags(in: tagged)
        #expect(tags.model == "TrailCam-07" && tags.taken == "2026:05:01 12:00:03" && tags.orientation == 1)
        #expect(tags.takenSeconds == 1_777_636_803)
        #expect(EXIF.Tags(taken: "1999:12:31 23:59:59").takenSeconds == 946_684_799)
        #expect(Bursts.text(1_777_636_803) == "2026:05:01 12:00:03")
        #expect(EXIF.tags(in: [UInt8](plain)) == EXIF.Tags())
        let badDate = [UInt8](jpegWithEXIF(plain, model: "X", taken: "2026:13:01 12:00:03"))
        #expect(EXIF.tags(in: badDate).taken == nil && EXIF.tags(in: badDate).model == "X")
        // Every truncation of the tagged file reads without a crash, and never invents a time.
        for cut in stride(from: 0, to: 160, by: 1) {
            let tags = EXIF.tags(in: Array(tagged.prefix(cut)))
            #expect(tags.taken == nil || tags.takenSeconds == 1_777_636_803)
        }
        // The decoder still reads the photo behind the new segment.
        #expect(try ImageDecoder().decode(tagged, source: URL(fileURLWithPath: "/t.jpg")).width == 8)
    }

    /// A file Pillow wrote (an independent writer: IFD0 with Model and orientation, the Exif sub-IFD with
    /// DateTimeOriginal) reads the same; the scripts that generate test sets write EXIF this way.
    @Test func exifWrittenByPillowReads() throws {
        let tags = EXIF.tags(ofFile: Fixtures.url("images/exif-datetime-model.jpg"))
        #expect(tags == EXIF.Tags(orientation: 6, taken: "2026:05:01 12:00:03", model: "TrailCam-07"))
        #expect(EXIF.tags(ofFile: Fixtures.url("images/no-such-file.jpg")) == EXIF.Tags())
    }

    /// Bursts: one camera in one folder within the gap; another folder or camera is another event; a photo without
    /// a time is an event of its own; the gap itself still joins.
    @Test func burstsByCameraFolderAndGap() {
        func item(_ folder: String, _ name: String) -> ImageItem {
            ImageItem(url: URL(fileURLWithPath: "/\(folder)/\(name).jpg"), name: name, label: nil)
        }
        let items = [item("a", "1"), item("a", "2"), item("a", "3"), item("b", "4"), item("a", "5"), item("a", "6")]
        let tags: [EXIF.Tags?] = [
            EXIF.Tags(taken: "2026:05:01 12:00:00", model: "A"), EXIF.Tags(taken: "2026:05:01 12:01:00", model: "A"),
            EXIF.Tags(taken: "2026:05:01 12:02:01", model: "A"), EXIF.Tags(taken: "2026:05:01 12:00:30", model: "A"),
            EXIF.Tags(), EXIF.Tags(taken: "2026:05:01 12:00:30", model: "B"),
        ]
        let events = Bursts.events(items, tags: tags, gap: 60)
        #expect(events.map(\.members) == [[0, 1], [2], [3], [4], [5]])
        #expect(events[0].first == 1_777_636_800 && events[0].last == 1_777_636_860 && events[3].first == nil)
        #expect(Bursts.events(items, tags: tags, gap: 61).map(\.members) == [[0, 1, 2], [3], [4], [5]])
    }
}
