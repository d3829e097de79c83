import Foundation
import TestSupport
import Testing
import Torch

@testable import Vision

@Suite("Data sources, split, cache and loader")
struct DataTests {
    /// A CSV without a header lost its first photo in silence, and swapped columns gave one "not an image" per row:
    /// both are refused, once, with what to do. Columns named by the caller are taken as given.
    @Test func headerlessAndSwappedCSVsAreCaughtOnce() throws {
        let root = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        let labels = root.appendingPathComponent("train_labels.csv")
        try "1,1\n2,0\n3,1\n4,0\n5,1\n6,0\n".write(to: labels, atomically: true, encoding: .utf8)
        #expect {
            try DataSource.labelled(root)
        } throws: { "\($0)".contains("\(labels.path):1: has no header line: its first line names the image '1'") }
        try "label,name\n1,1\n0,2\n1,3\n0,4\n1,5\n0,6\n".write(to: labels, atomically: true, encoding: .utf8)
        #expect {
            try DataSource.labelled(root)
        } throws: { "\($0)".contains("--name-column name --label-column label") }
        let named = try DataSource.labelled(root, nameColumn: "name", labelColumn: "label")
        #expect(named.items.count == 6 && named.problems.isEmpty)
    }

    @Test func kaggleLayoutWithEveryKindOfBadRow() throws {
        let root = try makeKaggleDataSet(unlisted: 2, extraRows: ["missing,1", "3,0", "25.jpg,", "26,maybe"])
        // A corrupt image on disk that the CSV names.
        try Data("garbage".utf8).write(to: root.appendingPathComponent("train/7.jpg"))
        let strict = try DataSource.labelled(root, classes: ["0", "1"])
        let problems = strict.problems.map(\.description)
        let csv = root.appendingPathComponent("train_labels.csv").path
        #expect(
            problems.contains(
                "\(csv):26: names 'missing', which is not an image in \(root.appendingPathComponent("train").path)"))
        #expect(problems.contains("\(csv):27: names '3' again (first on line 4)"))
        #expect(problems.contains("\(csv):28: has an empty label for '25.jpg'"))
        #expect(problems.contains { $0.hasPrefix("\(csv):29: has label 'maybe'") })
        #expect(strict.items.count == 24)
        #expect(strict.classes == ["0", "1"])
        #expect(strict.classCounts == [12, 12])
        // The check decodes every file and finds the corrupt one too.
        let all = DataCheck.problems(in: strict)
        #expect(
            all.contains {
                $0.kind == .corruptImage && $0.path.hasSuffix("train/7.jpg") && $0.message.contains("not a JPEG or PNG")
            })
        // Quarantine moves it out.
        let quarantine = root.appendingPathComponent("bad")
        #expect(try DataCheck.quarantine(all, to: quarantine).moved == 1)
        #expect(FileManager.default.fileExists(atPath: quarantine.appendingPathComponent("train/7.jpg").path))
    }

    /// A word in a column of 0/1 labels is a typo, not a third class of one image.
    @Test func aWordInANumericLabelColumnIsAProblem() throws {
        let root = try makeKaggleDataSet(unlisted: 1, extraRows: ["25,maybe"])
        let data = try DataSource.labelled(root)
        #expect(data.classes == ["0", "1"])
        #expect(data.items.count == 24)
        let csv = root.appendingPathComponent("train_labels.csv").path
        #expect(
            data.problems.map(\.description) == [
                "\(csv):26: has label 'maybe' for '25' in a column of numbers (0, 1): left out"
            ])
    }

    /// Symbolic links that lead nowhere or to themselves are problems named in words, moved by quarantine
    /// (without colliding with a file already there), and never stop the listing; a link to a folder is not
    /// followed into a loop.
    @Test func brokenSymbolicLinksAreProblemsNotCrashes() throws {
        let root = try Fixtures.temporaryFolder()
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        for (folder, image) in [(a, "rgb.png"), (b, "gray.png")] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for i in 1...3 {
                try FileManager.default.copyItem(
                    at: Fixtures.url("images/\(image)"), to: folder.appendingPathComponent("\(i).png"))
            }
        }
        try FileManager.default.createSymbolicLink(
            atPath: a.appendingPathComponent("gone.jpg").path,
            withDestinationPath: "/nonexistent/x.jpg")
        try FileManager.default.createSymbolicLink(
            atPath: b.appendingPathComponent("self.jpg").path,
            withDestinationPath: "self.jpg")
        try FileManager.default.createSymbolicLink(
            atPath: a.appendingPathComponent("loop").path,
            withDestinationPath: "../a")
        let dataset = try DataSource.labelled(root)
        let problems = DataCheck.problems(in: dataset).map(\.description)
        #expect(
            problems.contains("\(a.path)/gone.jpg: is a symbolic link to /nonexistent/x.jpg, which does not exist"),
            "\(problems)")
        #expect(problems.contains("\(b.path)/self.jpg: is a symbolic link loop"), "\(problems)")
        #expect(problems.count == 2)
        let quarantine = root.appendingPathComponent("bad")
        try FileManager.default.createDirectory(
            at: quarantine.appendingPathComponent("a"), withIntermediateDirectories: true)
        try Data().write(to: quarantine.appendingPathComponent("a/gone.jpg"))
        let result = try DataCheck.quarantine(DataCheck.problems(in: dataset), to: quarantine)
        #expect(result.moved == 2 && result.failed.isEmpty)
        #expect(FileBytes.exists(quarantine.appendingPathComponent("a/gone-2.jpg")))
        #expect(FileBytes.exists(quarantine.appendingPathComponent("b/self.jpg")))
        #expect(!FileBytes.exists(a.appendingPathComponent("gone.jpg")))
    }

    @Test func csvProblemsThatStopEverything() throws {
        let root = try makeKaggleDataSet(trainCount: 4, testCount: 1)
        let csv = root.appendingPathComponent("train_labels.csv")
        try "name;invasive\n".write(to: csv, atomically: true, encoding: .utf8)
        #expect(throws: DataProblem.self) { try DataSource.labelled(root) }
        try "name\n1\n".write(to: csv, atomically: true, encoding: .utf8)
        do {
            _ = try DataSource.labelled(root)
            Issue.record("a one-column CSV was accepted")
        } catch let p as DataProblem {
            #expect(p.description.contains("expected at least 2"))
        }
        try "file,label\n1,a\n".write(to: csv, atomically: true, encoding: .utf8)
        do {
            _ = try DataSource.labelled(root, labelColumn: "species")
            Issue.record("an unknown column was accepted")
        } catch let p as DataProblem {
            #expect(p.description.contains("has no column 'species'; its header is: file, label"))
        }
        let empty = try Fixtures.temporaryFolder()
        #expect(throws: DataProblem.self) { try DataSource.unlabelled(empty) }
    }

    @Test func classFoldersAndEmptyClass() throws {
        let root = try Fixtures.temporaryFolder()
        for name in ["cat", "dog", "empty"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        for (i, name) in ["cat", "dog", "dog"].enumerated() {
            try FileManager.default.copyItem(
                at: Fixtures.url("images/rgb.png"), to: root.appendingPathComponent("\(name)/\(i).png"))
        }
        let data = try DataSource.labelled(root)
        #expect(data.classes == ["cat", "dog", "empty"])
        #expect(data.classCounts == [1, 2, 0])
        #expect(data.problems.map(\.kind) == [.emptyClass])
    }

    @Test func splitIsStableSizedAndStratified() {
        let labels = (0..<1000).map { $0 % 10 < 3 ? 1 : 0 }  // 30 % positives
        let a = Split.random(count: 1000, fraction: 0.2, seed: 5)
        #expect(a.valid.count == 200 && a.train.count == 800)
        #expect(Split.random(count: 1000, fraction: 0.2, seed: 5).valid == a.valid)
        #expect(Split.random(count: 1000, fraction: 0.2, seed: 6).valid != a.valid)
        // Fixed values: the PRNG is ours, so these never change across machines or Swift versions.
        #expect(Array(a.valid.prefix(5)) == [0, 2, 8, 9, 10])
        var rng = SeededRandom(seed: 1)
        #expect(rng.next() == 0x910A_2DEC_8902_5CC1)
        let s = Split.random(count: 1000, fraction: 0.25, seed: 0, labels: labels)
        #expect(s.valid.filter { labels[$0] == 1 }.count == 75)
        #expect(s.valid.count == 250)
    }

    @Test func presizeCacheReusesAndRebuildsWhenTheSourceChanges() throws {
        let root = try makeKaggleDataSet(trainCount: 2, testCount: 1, size: 64)
        let cache = PresizeCache(shorterSide: 32, folder: root.appendingPathComponent("cache"))
        let source = root.appendingPathComponent("train/1.jpg")
        let first = try cache.entry(for: source)
        let image = try cache.image(for: source)
        #expect(image.width == 32 && image.height == 32)
        #expect(FileManager.default.fileExists(atPath: first.path))
        #expect(try cache.entry(for: source) == first)
        // Touch the source: a new key.
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(60)], ofItemAtPath: source.path)
        #expect(try cache.entry(for: source) != first)
        let problems = cache.fill(try DataSource.labelled(root).items)
        #expect(problems.isEmpty)
        // Issue 12: replace the image by another of the same size and modification time (`cp -p`): a new key.
        let attributes = try FileManager.default.attributesOfItem(atPath: source.path)
        let before = try cache.entry(for: source)
        var bytes = try Data(contentsOf: source)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: source)
        try FileManager.default.setAttributes(
            [.modificationDate: attributes[.modificationDate] as Any], ofItemAtPath: source.path)
        #expect(
            try FileManager.default.attributesOfItem(atPath: source.path)[.size] as? Int == attributes[.size] as? Int)
        #expect(try cache.entry(for: source) != before)
    }

    /// A 90/10 data set: the balanced sampler's epochs draw each class about half the time, the same on every
    /// run, another draw each epoch; shards still cut each batch into the ranks' parts; precompute is untouched.
    @Test func balancedEpochsDrawEveryClassEquallyOften() throws {
        let items = (0..<1000).map { i in
            ImageItem(url: URL(fileURLWithPath: "/none/\(i).jpg"), name: "\(i)", label: i % 10 == 0 ? 1 : 0)
        }
        let data = ImageDataset(items: items, classes: ["common", "rare"])
        let loader = DataLoader(data, size: 32, batchSize: 50, shuffle: true, normalization: .imageNet, seed: 3)
        let plain = loader.batchIndices(epoch: 0).joined()
        #expect(plain.filter { items[$0].label == 1 }.count == 100)
        loader.balanced = true
        let epoch = Array(loader.batchIndices(epoch: 0).joined())
        let rare = epoch.filter { items[$0].label == 1 }.count
        #expect(epoch.count == 1000 && (440...560).contains(rare), "\(rare) rare draws of 1000")
        #expect(Set(epoch).count < 1000)  // with replacement: some common images are left out
        #expect(Array(loader.batchIndices(epoch: 0).joined()) == epoch)
        #expect(Array(loader.batchIndices(epoch: 1).joined()) != epoch)
        loader.shard = (1, 2)
        #expect(loader.batchIndices(epoch: 0).map(\.count) == Array(repeating: 25, count: 20))
        #expect(loader.batchIndices(epoch: 0)[0] == Array(epoch[25..<50]))
    }

    @Test func loaderIsDeterministicAndSkipsBadImages() throws {
        let root = try makeKaggleDataSet(trainCount: 10, testCount: 1)
        try Data().write(to: root.appendingPathComponent("train/4.jpg"))  // zero bytes
        let data = try DataSource.labelled(root)
        func run(workers: Int) throws -> ([[Int]], [Float], Int) {
            let loader = DataLoader(
                data, size: 32, batchSize: 4, shuffle: true, augmentation: .sideOn, normalization: .imageNet, seed: 3)
            loader.workers = workers
            let batches = Array(loader.batches(epoch: 1))
            return (batches.map(\.indices), try batches[0].images.floats(), loader.skipped.all.count)
        }
        let (order, pixels, skipped) = try run(workers: 1)
        let (order2, pixels2, _) = try run(workers: 3)
        #expect(order == order2)
        #expect(pixels == pixels2)
        #expect(skipped == 1)
        #expect(order.flatMap { $0 }.count == 9)  // 10 images, one unreadable, last partial batch kept
        let loader = DataLoader(
            data, size: 32, batchSize: 4, shuffle: true, dropLast: true, normalization: .imageNet, seed: 3)
        #expect(loader.batchIndices(epoch: 0).allSatisfy { $0.count == 4 })
        #expect(loader.batchIndices(epoch: 0) != loader.batchIndices(epoch: 1))
        let batch = try #require(Array(loader.batches(epoch: 0)).first)
        #expect(Array(batch.images.shape.dropFirst()) == [3, 32, 32] && batch.images.isContiguous(.channelsLast))
        #expect(batch.images.shape[0] == batch.indices.count)
    }

    /// A 4×2 photo, left half white, right half black, made square at 2 px: crop keeps the centre (one white, one
    /// black column), squish keeps both halves, pad puts the photo on black bars (top and bottom rows black).
    @Test func cropSquishAndPadMakeTheExpectedSquares() {
        var pixels = [UInt8](repeating: 0, count: 4 * 2 * 3)
        for y in 0..<2 { for x in 0..<2 { for c in 0..<3 { pixels[(y * 4 + x) * 3 + c] = 255 } } }
        let photo = RGBImage(width: 4, height: 2, pixels: pixels)
        var none: SeededRandom? = nil
        func red(_ method: ResizeMethod, size: Int) -> [Float] {
            Array(ItemTransform(size: size, method: method).apply(photo, random: &none)[0..<(size * size)])
        }
        #expect(red(.crop, size: 2) == [255, 0, 255, 0])
        #expect(red(.squish, size: 2) == [255, 0, 255, 0])
        #expect(red(.squish, size: 4) == Array([[Float]](repeating: [255, 255, 0, 0], count: 4).joined()))
        // Padded to 4×4 with a black row above and below; at 4 px the input is that square itself, at 2 px its
        // halves (each output pixel the mean of a 2 × 2 block: half bar, half photo).
        #expect(red(.pad, size: 4) == [0, 0, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0])
        #expect(red(.pad, size: 2) == [127.5, 0, 127.5, 0])
        // A long strip is padded without making its square (60,000 × 100: a 10 GB square before).
        let strip = RGBImage(width: 60_000, height: 100, pixels: [UInt8](repeating: 200, count: 60_000 * 100 * 3))
        let view = ItemTransform(size: 64, method: .pad).apply(strip, random: &none)
        #expect(view.count == 3 * 64 * 64 && view.allSatisfy { $0 >= 0 && $0 <= 255 })
        // Training draws a crop position only for crop; squish and pad show the whole photo every time.
        for method in [ResizeMethod.squish, .pad] {
            var random: SeededRandom? = SeededRandom(seed: 1)
            let transform = ItemTransform(size: 4, method: method)
            #expect(transform.apply(photo, random: &random) == transform.apply(photo, random: &none))
        }
    }

    /// The separable resampler gives the four-tap bilinear formula's bits, written out here pixel by pixel: down
    /// and up, square and oblong, at a crop offset, for a 1-pixel-wide photo, and for grey photos (resampled in one
    /// channel and copied).
    @Test(arguments: [
        (300, 300, 256, 0, 0, true, false), (320, 480, 256, 0, 97, true, false), (40, 30, 64, 5, 0, true, false),
        (1, 9, 4, 0, 3, true, false), (40, 30, 64, 0, 0, false, false), (300, 120, 64, 0, 0, false, false),
        (300, 300, 256, 0, 0, true, true), (320, 480, 256, 0, 97, true, true), (300, 120, 64, 0, 0, false, true),
        (1, 9, 4, 0, 3, true, true),
    ])
    func resamplingMatchesTheFourTapFormula(
        width: Int, height: Int, size: Int, x0: Int, y0: Int, square: Bool, grey: Bool
    ) throws {
        var random = SeededRandom(seed: UInt64(width * 1000 + height))
        let pixels = (0..<(width * height * (grey ? 1 : 3))).flatMap { _ -> [UInt8] in
            let value = UInt8(truncatingIfNeeded: random.next())
            return grey ? [value, value, value] : [value]
        }
        let image = RGBImage(width: width, height: height, pixels: pixels)
        #expect(image.isGrey == grey)
        // A square at the offset (crop), or the whole oblong photo (squish).
        let side = min(width - x0, height - y0)
        let (areaWidth, areaHeight) = square ? (side, side) : (width - x0, height - y0)
        let got = ItemTransform(size: size).resample(image, x0: x0, y0: y0, width: areaWidth, height: areaHeight)
        func taps(_ i: Int, _ offset: Int, _ extent: Int) -> (Int, Int, Float) {
            let scale: Double = Double(extent) / Double(size)
            let s: Double = max(0, (Double(i) + 0.5) * scale - 0.5)
            let f = Int(s)
            return (offset + min(f, extent - 1), offset + min(f + 1, extent - 1), Float(s - Double(f)))
        }
        var mismatches = 0
        for y in 0..<size {
            let (r0, r1, wy) = taps(y, y0, areaHeight)
            for x in 0..<size {
                let (c0, c1, wx) = taps(x, x0, areaWidth)
                for ch in 0..<3 {
                    func p(_ r: Int, _ c: Int) -> Float { Float(image.pixels[(r * width + c) * 3 + ch]) }
                    let top: Float = p(r0, c0) * (1 - wx) + p(r0, c1) * wx
                    let bottom: Float = p(r1, c0) * (1 - wx) + p(r1, c1) * wx
                    let expected: Float = top * (1 - wy) + bottom * wy
                    if got[ch * size * size + y * size + x] != expected { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
    }

    /// A server's batch is normalised while it is stacked: the bits of stacking and then ``Normalization/apply(_:)``,
    /// for both conventions, at a side whose planes are not a multiple of the sixteen values done at a time.
    @Test(arguments: [Normalization.imageNet, .tfLite])
    func normalisingWhileStackingGivesApplysBits(normalization: Normalization) throws {
        var random = SeededRandom(seed: 7)
        let side = 13
        let inputs = (0..<3).map { _ in (0..<(3 * side * side)).map { _ in Float(random.next() % 2560) / 10 } }
        let stacked = try Tensor(inputs.flatMap { $0 }, shape: [3, 3, side, side])
        let expected = try normalization.apply(stacked).toArray(Float.self)
        #expect(try normalization.batch(inputs, side: side).toArray(Float.self) == expected)
        #expect(throws: TorchError.self) { try normalization.batch([[0, 1]], side: side) }
        #expect(throws: TorchError.self) {
            try Normalization(mean: [127], std: [128]).batch(inputs, side: side)
        }
    }

    /// A presize cache that cannot be written (a file where its folder should be) costs time, not photos: every
    /// image is still presized and read, and nothing is reported unreadable.
    @Test func anUnwritableCacheIsGoneWithout() throws {
        let root = try makeKaggleDataSet(trainCount: 4, testCount: 1)
        let blocker = root.appendingPathComponent("not-a-folder")
        try Data("x".utf8).write(to: blocker)
        let cache = PresizeCache(shorterSide: 40, folder: blocker)
        let dataset = try DataSource.labelled(root)
        #expect(cache.fill(dataset.items).isEmpty)
        let image = try cache.image(for: dataset.items[0].url)
        #expect(min(image.width, image.height) == 40)
        let loader = DataLoader(dataset, size: 32, batchSize: 4, normalization: .imageNet, cache: cache)
        #expect(Array(loader.batches(epoch: 0)).flatMap(\.indices).count == 4 && loader.skipped.all.isEmpty)
    }

    /// File names in decomposed Unicode (NFD, as macOS writes them) match the composed names of a labels CSV, and
    /// the other way round.
    @Test func decomposedAndComposedNamesMatch() throws {
        let root = try makeKaggleDataSet(trainCount: 4, testCount: 1)
        let train = root.appendingPathComponent("train")
        let nfd = "cafe\u{301}", nfc = "caf\u{E9}"
        #expect(Array(nfd.utf8) != Array(nfc.utf8))
        try FileManager.default.moveItem(
            at: train.appendingPathComponent("1.jpg"), to: train.appendingPathComponent("\(nfd).jpg"))
        try FileManager.default.moveItem(
            at: train.appendingPathComponent("2.jpg"), to: train.appendingPathComponent("na\u{EF}ve.jpg"))
        try "name,invasive\n\(nfc),1\nnai\u{308}ve,0\n3,1\n4,0\n".write(
            to: root.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let dataset = try DataSource.labelled(root)
        #expect(dataset.items.count == 4 && dataset.problems.isEmpty, "\(dataset.problems)")
        #expect(dataset.items.allSatisfy { FileManager.default.fileExists(atPath: $0.url.path) })
    }

    /// Averaging k × k blocks in bytes (what presize does first to a photo four or more times its target, so that
    /// a 16-bit 10,000 × 10,000 PNG stays near 1 GB instead of 2): exact block means, partial blocks dropped.
    @Test func boxShrinkingAveragesWholeBlocks() {
        // 5 × 2, grey levels 0, 10, 20, 30, 40 in each row; k = 2 keeps two blocks: (0+10)/2 and (20+30)/2.
        let pixels = (0..<2).flatMap { _ in (0..<5).flatMap { x in [UInt8](repeating: UInt8(10 * x), count: 3) } }
        let shrunk = RGBImage(width: 5, height: 2, pixels: pixels).boxShrunk(by: 2)
        #expect(shrunk.width == 2 && shrunk.height == 1 && shrunk.pixels == [5, 5, 5, 25, 25, 25])
        // Blocks of other widths and heights (squish's pre-shrink of an oblong photo): 5 × 2 by 2 × 2 and by 5 × 1.
        #expect(
            RGBImage(width: 5, height: 2, pixels: pixels).boxShrunk(byX: 5, byY: 1).pixels == [20, 20, 20, 20, 20, 20])
        #expect(RGBImage(width: 1, height: 1, pixels: [1, 2, 3]).boxShrunk(by: 2).pixels == [1, 2, 3])
    }

    /// A test folder's labels beside it (`test_labels.csv`) are found from the folder and from the CSV, each read
    /// against its own photos (their names repeat the training photos'); the data folder finds them too.
    @Test func aTestFolderFindsItsLabelsBesideIt() throws {
        let root = try makeKaggleDataSet(trainCount: 6, testCount: 4)
        try "name,invasive\n1,1\n2,0\n3,1\n4,0\n".write(
            to: root.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        let test = root.appendingPathComponent("test")
        #expect(DataSource.labelsCSV(for: test)?.lastPathComponent == "test_labels.csv")
        let byFolder = try DataSource.labelled(test)
        let byCSV = try DataSource.labelled(root.appendingPathComponent("test_labels.csv"))
        #expect(byFolder.items.map(\.url) == byCSV.items.map(\.url) && byFolder.items.count == 4)
        #expect(byFolder.items.allSatisfy { $0.url.deletingLastPathComponent().lastPathComponent == "test" })
        #expect(byFolder.items.map(\.label) == [1, 0, 1, 0])
        let found = try #require(try DataSource.labelledTest(besides: root, classes: ["0", "1"]))
        #expect(found.items.count == 4)
        // Answers kept apart (the demo's answers/test_labels.csv) name the photos in test/ too.
        let answers = root.appendingPathComponent("answers")
        try FileManager.default.createDirectory(at: answers, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: root.appendingPathComponent("test_labels.csv"), to: answers.appendingPathComponent("test_labels.csv"))
        #expect(
            try DataSource.labelled(answers.appendingPathComponent("test_labels.csv")).items.map(\.url)
                == byFolder.items.map(\.url))
        // Test labels never label the training photos: class folders, or a Kaggle `train.csv`, beside them stay so.
        let folders = try Fixtures.temporaryFolder()
        for (c, name) in ["cat", "dog"].enumerated() {
            let dir = folders.appendingPathComponent("train/\(name)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for i in 0..<2 {
                try FileManager.default.copyItem(
                    at: root.appendingPathComponent("train/\(1 + c * 2 + i).jpg"),
                    to: dir.appendingPathComponent("\(i).jpg"))
            }
        }
        try "name,label\nx,cat\n".write(
            to: folders.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)
        #expect(try DataSource.labelled(folders).classes == ["cat", "dog"])
        // The training data is still train/ with train_labels.csv, and a data folder without test labels has none.
        #expect(try DataSource.labelled(root).items.count == 6)
        try FileManager.default.removeItem(at: root.appendingPathComponent("test_labels.csv"))
        #expect(try DataSource.labelledTest(besides: root, classes: ["0", "1"]) == nil)
    }

    /// A FIFO and a link to /dev/zero among the photos are skipped with what they are; the photo beside them is
    /// still read (the FIFO blocked a whole predict run until it was killed).
    @Test(.timeLimit(.minutes(1))) func specialFilesAreSkippedWithoutBlocking() throws {
        let root = try makeKaggleDataSet(trainCount: 2, testCount: 1)
        let test = root.appendingPathComponent("test")
        #expect(mkfifo(test.appendingPathComponent("fifo.jpg").path, 0o644) == 0)
        try FileManager.default.createSymbolicLink(
            atPath: test.appendingPathComponent("zero.jpg").path, withDestinationPath: "/dev/zero")
        let dataset = try DataSource.unlabelled(test)
        #expect(dataset.items.count == 3)
        let loader = DataLoader(dataset, size: 32, batchSize: 4, normalization: .imageNet)
        let batches = Array(loader.batches(epoch: 0))
        #expect(batches.flatMap(\.indices).map { dataset.items[$0].name } == ["1"])
        let reasons = loader.skipped.all.map(\.description).sorted()
        #expect(reasons.count == 2 && reasons[0].contains("is a FIFO (named pipe), not an image file"), "\(reasons)")
        #expect(reasons[1].contains("zero.jpg") && reasons[1].contains("is a device"), "\(reasons)")
        #expect(throws: ImageError.self) { try ImageDecoder.size(of: test.appendingPathComponent("fifo.jpg")) }
    }

    @Test func augmentationMovesAMarkedCornerWhereTheTransformSays() throws {
        // A 1×1×8×8 image with one bright pixel at the top-left.
        var values = [Float](repeating: 0, count: 3 * 64)
        for c in 0..<3 { values[c * 64] = 255 }
        let image = try Tensor(values, shape: [1, 3, 8, 8])
        var flip = Augmentation()
        flip.probability = 0  // only the flip
        var rng = SeededRandom(seed: 0)
        // Find a seed whose first draw flips, and check the marker went to the top-right.
        var flipped = false
        for seed in 0..<10 where !flipped {
            rng = SeededRandom(seed: UInt64(seed))
            var probe = rng
            let theta = flip.draw(count: 1, random: &probe).theta
            guard theta[0] < 0 else { continue }
            let out = try flip.apply(image, random: &rng)[0][0]
            #expect(try out[0][7].item() > 200 && out[0][0].item() < 50)
            flipped = true
        }
        #expect(flipped)
        // Top-down: flips and 90° turns (the 8 symmetries of the square) take the corner to every corner.
        var turn = Augmentation.topDown
        turn.probability = 0
        var moved = Set<Int>()
        for seed in 0..<64 {
            var r = SeededRandom(seed: UInt64(seed))
            let out = try turn.apply(image, random: &r)[0][0].floats()
            if let at = out.firstIndex(where: { $0 > 200 }) { moved.insert(at) }
        }
        #expect(moved == [0, 7, 56, 63])
    }

    @Test func dihedralPresetOnlyPermutesPixels() throws {
        // Every output is exactly one of the eight symmetries of the input: no resampling, no lighting.
        var rng = SeededRandom(seed: 5)
        let values = (0..<(3 * 36)).map { _ in Float(rng.next() % 256) }
        let image = try Tensor(values, shape: [1, 3, 6, 6])
        var symmetries: [[Float]] = []
        for turned in [image, try image.transposed(2, 3)] {
            for dims in [[], [2], [3], [2, 3]] {
                symmetries.append(try (dims.isEmpty ? turned : turned.flipped(dims)).floats())
            }
        }
        var seen = Set<Int>()
        for seed in 0..<40 {
            var r = SeededRandom(seed: UInt64(seed))
            let out = try Augmentation.dihedralOnly.apply(image, random: &r).floats()
            let match = symmetries.firstIndex { zip($0, out).allSatisfy { abs($0 - $1) < 1e-3 } }
            #expect(match != nil, "seed \(seed): not a symmetry of the input")
            if let match { seen.insert(match) }
        }
        #expect(seen.count == 8)
        #expect(Augmentation(preset: "dihedral") == .dihedralOnly && Augmentation(preset: "sideways") == nil)
        // The fixed views of test-time augmentation: symmetry k is the same whatever the seed, and the eight differ.
        #expect(Augmentation.dihedralOnly.isSymmetriesOnly && !Augmentation.topDown.isSymmetriesOnly)
        var fixed = Set<Int>()
        for k in 0..<8 {
            var r1 = SeededRandom(seed: 1), r2 = SeededRandom(seed: 2)
            let out = try Augmentation.symmetry(k).apply(image, random: &r1).floats()
            #expect(out == (try Augmentation.symmetry(k).apply(image, random: &r2).floats()))
            if let match = symmetries.firstIndex(where: { zip($0, out).allSatisfy { abs($0 - $1) < 1e-3 } }) {
                fixed.insert(match)
            }
        }
        #expect(fixed.count == 8)
    }

    @Test func symmetriesMovePixelsToWhereTheResamplerPutsThem() throws {
        // Symmetry-only draws move pixels (`applySymmetry`) instead of resampling: the same eight views in the same
        // order, in either memory format, and the same training batches for the same seed.
        var rng = SeededRandom(seed: 9)
        let values = (0..<(2 * 3 * 49)).map { _ in Float(rng.next() % 256) }
        let batch = try Tensor(values, shape: [2, 3, 7, 7])
        func near(_ a: [Float], _ b: [Float]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-3 }
        }
        for k in 0..<8 {
            var r = SeededRandom(seed: UInt64(k))
            let drawn = Augmentation.symmetry(k).draw(count: 2, random: &r)
            let resampled = try Augmentation.resampled(
                batch, theta: drawn.theta, contrast: drawn.contrast, brightness: drawn.brightness
            ).floats()
            let moved = try Augmentation.applySymmetry(k, to: batch)
            let movedLast = try Augmentation.applySymmetry(k, to: batch.contiguous(.channelsLast))
            #expect(movedLast.isContiguous(.channelsLast) && moved.isContiguous())
            #expect(near(resampled, try moved.floats()), "symmetry \(k)")
            #expect(try moved.floats() == movedLast.floats(), "symmetry \(k), channels-last")
        }
        var flips = Set<[Float]>()
        for seed in 0..<16 {
            var r1 = SeededRandom(seed: UInt64(seed)), r2 = SeededRandom(seed: UInt64(seed))
            let drawn = Augmentation.dihedralOnly.draw(count: 2, random: &r1)
            let resampled = try Augmentation.resampled(
                batch, theta: drawn.theta, contrast: drawn.contrast, brightness: drawn.brightness
            ).floats()
            let applied = try Augmentation.dihedralOnly.apply(batch, random: &r2).floats()
            #expect(near(resampled, applied), "seed \(seed)")
            flips.insert(drawn.theta)
            // The pixels were moved, not resampled: exactly each photo's symmetry.
            let ks = (0..<2).map { Augmentation.symmetryIndex(Array(drawn.theta[(6 * $0)..<(6 * $0 + 6)])) }
            let moved = try ks.enumerated().flatMap { i, k in
                try Augmentation.applySymmetry(try #require(k), to: batch.narrowed(dim: 0, i..<(i + 1))).floats()
            }
            #expect(applied == moved, "seed \(seed)")
        }
        #expect(flips.count > 8)  // the two photos of a batch take different symmetries
        #expect(throws: VisionError.self) { try Augmentation.applySymmetry(4, to: Tensor.zeros([1, 3, 4, 6])) }
    }
}

@Suite("Batch stream lifetime")
struct BatchStreamLifetimeTests {
    @Test func droppingAStreamEarlyStopsItsWorkers() throws {
        let root = try makeKaggleDataSet(trainCount: 40, testCount: 1, size: 32)
        let loader = DataLoader(try DataSource.labelled(root), size: 16, batchSize: 2, normalization: .imageNet)
        weak var weakStream: BatchStream?
        do {
            let stream = loader.batches(epoch: 0)
            weakStream = stream
            _ = stream.next()  // take one batch of 20, then walk away
        }
        #expect(weakStream == nil)
        #expect(BatchStream.workersAlive == 0, "dropping a stream returns only once its workers have")
        // A fresh stream still yields everything.
        #expect(Array(loader.batches(epoch: 0)).count == 20)
    }
}
