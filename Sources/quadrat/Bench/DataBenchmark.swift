import Foundation
import Torch
import Vision
import Workflow

/// `quadrat bench data`: decode, decode + presize (cold cache) and loader throughput, on the ELPV
/// images and on generated 1154×866 JPEGs (the Invasive Species photo size).
struct DataBenchmark {
    var count = 200
    var size = 224

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("quadrat-bench-data-\(getpid())")
        defer { try? FileManager.default.removeItem(at: folder) }  // best effort: a temporary folder
        let photos = try generatePhotos(in: folder.appendingPathComponent("photos"))
        var sets: [(String, [URL])] = [("generated 1154×866 JPEG", photos)]
        let elpv = QuadratPaths.elpv.appendingPathComponent("images")
        // ELPV is optional here: without it (no `make setup`), only the generated JPEGs are measured.
        if let names = try? FileManager.default.contentsOfDirectory(atPath: elpv.path) {
            sets.append(("ELPV 300×300 PNG", names.sorted().prefix(count).map { elpv.appendingPathComponent($0) }))
        }
        let threads = ProcessInfo.processInfo.activeProcessorCount
        emit(
            "\(threads) threads; presize to shorter side \(PresizeCache.defaultShorterSide(forSize: size)); loader at \(size) px, batch 32, side-on augmentation"
        )
        for (name, files) in sets {
            let decodeRate = try rate(files.count) {
                try parallel(files) { _ = try ImageDecoder().decode($0) }
            }
            let cache = PresizeCache(
                shorterSide: PresizeCache.defaultShorterSide(forSize: size),
                folder: folder.appendingPathComponent("cache-\(name.hashValue)"))
            let items = files.map { ImageItem(url: $0, name: $0.lastPathComponent, label: 0) }
            // The same work without the cache's file handling (lookup, write, rename).
            let workRate = try rate(files.count) {
                try parallel(files) { _ = try cache.presizedJPEG($0) }
            }
            let presizeRate = try rate(files.count) {
                let problems = cache.fill(items)
                if !problems.isEmpty { throw VisionError("presize failed: \(problems[0])") }
            }
            let loader = DataLoader(
                ImageDataset(items: items, classes: ["x"]), size: size, batchSize: 32, shuffle: true,
                augmentation: .sideOn, normalization: .imageNet, cache: cache)
            let loaderRate = try rate(files.count) {
                var n = 0
                for batch in loader.batches(epoch: 0) { n += batch.indices.count }
                if n != files.count { throw VisionError("loader lost images: \(n) of \(files.count)") }
            }
            // Sizes only for the printed MB/s: files the benchmark just wrote.
            let bytes = files.compactMap { try? FileManager.default.attributesOfItem(atPath: $0.path)[.size] as? Int }
                .reduce(0, +)
            emit("\(name) (\(files.count) files, mean \(bytes / max(1, files.count) / 1024) KiB)")
            emit(String(format: "  decode (full size)              %7.0f img/s", decodeRate))
            emit(String(format: "  decode + presize, cold cache    %7.0f img/s", presizeRate))
            emit(String(format: "    the same, not stored          %7.0f img/s", workRate))
            emit(
                String(
                    format: "  loader from warm cache + aug    %7.0f img/s (%.1f batches/s)", loaderRate,
                    loaderRate / 32))
        }
    }

    /// Photo-like JPEGs: smooth colour gradients plus sensor-like noise (±6 levels), 1154×866, quality 90.
    func generatePhotos(in folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = SeededRandom(seed: 1)
        let (w, h) = (1154, 866)
        var urls: [URL] = []
        for i in 0..<count {
            var pixels = [UInt8](repeating: 0, count: w * h * 3)
            let phase = Double(i)
            for y in 0..<h {
                for x in 0..<w {
                    let base = (y * w + x) * 3
                    let n = Int(rng.next() % 13)
                    pixels[base] = UInt8(truncatingIfNeeded: Int(100 + 80 * sin(Double(x) / 90 + phase)) + n)
                    pixels[base + 1] = UInt8(truncatingIfNeeded: Int(120 + 70 * cos(Double(y) / 70 - phase)) + n)
                    pixels[base + 2] = UInt8(truncatingIfNeeded: Int(90 + 60 * sin(Double(x + y) / 150)) + n)
                }
            }
            let url = folder.appendingPathComponent("\(i + 1).jpg")
            try ImageEncoder.jpeg(RGBImage(width: w, height: h, pixels: pixels), quality: 90).write(to: url)
            urls.append(url)
        }
        return urls
    }

    func rate(_ n: Int, _ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(n) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    func parallel(_ files: [URL], _ work: @escaping @Sendable (URL) throws -> Void) throws {
        let problems = ProblemList()
        DispatchQueue.concurrentPerform(iterations: files.count) { i in
            do { try work(files[i]) } catch {
                problems.append(DataProblem(.corruptImage, path: files[i].path, "\(error)"))
            }
        }
        if let first = problems.all.first { throw first }
    }
}
