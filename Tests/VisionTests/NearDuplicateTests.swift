import Foundation
import TestSupport
import Testing
import Vision

@Suite("Near-duplicate photos", .serialized)
struct NearDuplicateTests {
    /// A photo of smooth random blobs on a gradient (160 × 120): photos from different seeds are unrelated.
    static func photo(seed: UInt64) -> RGBImage {
        var rng = SeededRandom(seed: seed)
        let (w, h) = (160, 120)
        let blobs = (0..<6).map { _ in
            (x: rng.unit() * Double(w), y: rng.unit() * Double(h), r: 8 + rng.unit() * 30, v: rng.unit() * 160 - 80)
        }
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                var value = 90 + 60 * Double(x) / Double(w)
                for b in blobs {
                    let d2 = (Double(x) - b.x) * (Double(x) - b.x) + (Double(y) - b.y) * (Double(y) - b.y)
                    value += b.v * exp(-d2 / (2 * b.r * b.r))
                }
                let v = UInt8(max(0, min(255, value)))
                for c in 0..<3 { pixels[(y * w + x) * 3 + c] = c == 0 ? v : v / 2 + 40 }
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }

    /// The four edits of the issue: resized, recompressed, cropped by 8 % on one side, 15 % brighter.
    static func edited(_ image: RGBImage, edit: Int) throws -> Data {
        switch edit {
        case 0: return try ImageEncoder.jpeg(image.resizedBilinear(width: 112, height: 84))
        case 1: return try ImageEncoder.jpeg(image, quality: 45)
        case 2:
            let rows = image.height * 92 / 100
            return try ImageEncoder.jpeg(
                RGBImage(width: image.width, height: rows, pixels: Array(image.pixels.prefix(image.width * rows * 3))))
        default:
            return try ImageEncoder.jpeg(
                RGBImage(
                    width: image.width, height: image.height,
                    pixels: image.pixels.map { UInt8(min(255, Double($0) * 1.15)) }))
        }
    }

    /// 16 unrelated photos, a copy of each of the first four under each edit, and a byte-identical copy of the
    /// fifth: each copy clusters with its original only, the byte-identical pair is exact, and nothing else
    /// clusters. Against a second set, the copies are found and the unrelated photos are not.
    @Test func editedCopiesClusterWithTheirOriginalsOnly() throws {
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let folder = try Fixtures.temporaryFolder()
        var items: [ImageItem] = []
        func add(_ name: String, _ bytes: Data) throws { items.append(try Self.write(bytes, named: name, in: folder)) }
        for k in 0..<16 { try add("o\(k)", try ImageEncoder.jpeg(Self.photo(seed: UInt64(100 + k)))) }
        for k in 0..<4 { try add("c\(k)", try Self.edited(Self.photo(seed: UInt64(100 + k)), edit: k)) }
        try add("x4", try Data(contentsOf: items[4].url))
        let cache = PresizeCache(shorterSide: 96)
        _ = cache.fill(items)
        let prints = PhotoPrint.measure(items, cache: cache)
        let clusters = try NearDuplicates.clusters(prints)
        let named = Set(clusters.map { Set($0.members.map { items[$0].name }) })
        #expect(named == [["o0", "c0"], ["o1", "c1"], ["o2", "c2"], ["o3", "c3"], ["o4", "x4"]], "\(named)")
        #expect(clusters.filter(\.exact).map { Set($0.members.map { items[$0].name }) } == [["o4", "x4"]])

        let originals = Array(prints.prefix(16)), copies = Array(prints.suffix(5))
        let unrelated: [PhotoPrint?] = try (16..<20).map {
            try PhotoPrint(itemFor(seed: $0, in: folder, cache: cache), cache: cache)
        }
        let matches = try NearDuplicates.matches(of: copies + unrelated, in: originals)
        #expect(matches == [[0], [1], [2], [3], [4], [], [], [], []], "\(matches)")
    }

    /// Eight recompressions of one photo form one cluster (more copies than the three nearest each photo links to);
    /// flat photos of different greys, which have nothing to compare, form none.
    @Test func manyCopiesFormOneClusterAndFlatPhotosNone() throws {
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let folder = try Fixtures.temporaryFolder()
        var items: [ImageItem] = []
        func add(_ name: String, _ bytes: Data) throws { items.append(try Self.write(bytes, named: name, in: folder)) }
        for k in 0..<8 { try add("burst\(k)", try ImageEncoder.jpeg(Self.photo(seed: 500), quality: 60 + 4 * k)) }
        for k in 0..<40 { try add("o\(k)", try ImageEncoder.jpeg(Self.photo(seed: UInt64(600 + k)))) }
        for (k, grey) in [0, 128, 255].enumerated() {
            try add(
                "flat\(k)",
                try ImageEncoder.jpeg(
                    RGBImage(width: 64, height: 48, pixels: [UInt8](repeating: UInt8(grey), count: 64 * 48 * 3))))
        }
        let cache = PresizeCache(shorterSide: 96)
        _ = cache.fill(items)
        let clusters = try NearDuplicates.clusters(PhotoPrint.measure(items, cache: cache))
        let named = clusters.map { Set($0.members.map { items[$0].name }) }
        #expect(named.contains(Set((0..<8).map { "burst\($0)" })), "\(named)")
        #expect(!named.contains { $0.contains { $0.hasPrefix("flat") } }, "\(named)")
    }

    /// `bytes` written as `folder/NAME.jpg`, as an item of class 0.
    static func write(_ bytes: Data, named name: String, in folder: URL) throws -> ImageItem {
        let url = folder.appendingPathComponent("\(name).jpg")
        try bytes.write(to: url)
        return ImageItem(url: url, name: name, label: 0)
    }

    /// An unrelated photo written into `folder` and presized.
    func itemFor(seed: Int, in folder: URL, cache: PresizeCache) throws -> ImageItem {
        let url = folder.appendingPathComponent("u\(seed).jpg")
        try ImageEncoder.jpeg(Self.photo(seed: UInt64(100 + seed))).write(to: url)
        let item = ImageItem(url: url, name: "u\(seed)", label: 0)
        _ = cache.fill([item])
        return item
    }

    @Test func thumbprintViewsAreStandardized() {
        let print = Thumbprint(Self.photo(seed: 1))
        let d = Thumbprint.side * Thumbprint.side
        #expect(print.values.count == Thumbprint.viewCount * d)
        for v in 0..<Thumbprint.viewCount {
            let view = print.values[(v * d)..<((v + 1) * d)]
            let mean = view.reduce(0, +) / Float(d)
            let variance = view.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(d)
            #expect(abs(mean) < 1e-4 && abs(variance - 1) < 1e-3)
        }
        // A flat photo has no texture to compare: all zeros, never a copy of anything by accident.
        let flat = Thumbprint(RGBImage(width: 4, height: 4, pixels: [UInt8](repeating: 7, count: 48)))
        #expect(flat.values.allSatisfy { $0 == 0 })
    }
}
