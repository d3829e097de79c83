import CImageCodecs
import Foundation
import TestSupport
import Testing
import Torch

@testable import Vision

/// Decoding every JPEG and PNG flavour (fixtures from scripts/fixtures/images.py).
@Suite("Image decoding")
struct ImageDecodingTests {
    let expected: [String: Tensor]
    let pattern: [UInt8]

    init() throws {
        expected = try Fixtures.tensors("images/expected.safetensors")
        pattern = try #require(expected["pattern"]).toArray(UInt8.self)
    }

    func decode(_ name: String, minimumSide: Int? = nil) throws -> RGBImage {
        try ImageDecoder(minimumSide: minimumSide).decode(Fixtures.url("images/\(name)"))
    }

    /// Largest per-channel difference to `reference` (H×W×3).
    func maxDifference(_ image: RGBImage, _ reference: [UInt8]) -> Int {
        zip(image.pixels, reference).map { abs(Int($0) - Int($1)) }.max() ?? 255
    }

    @Test(arguments: ["baseline.jpg", "progressive.jpg", "cmyk.jpg"] + (1...8).map { "exif\($0).jpg" })
    func jpegFlavoursComeOutUprightAndRight(name: String) throws {
        let image = try decode(name)
        #expect(image.width == 40 && image.height == 30, "\(name): \(image.width)×\(image.height)")
        // JPEG is lossy: allow the usual error at colour edges, but the quadrants must match.
        #expect(maxDifference(image, pattern) < 60, "\(name)")
        let (r, g, b) = image[x: 2, y: 2]  // the white marker stays top-left
        #expect(r > 200 && g > 200 && b > 200, "\(name): marker at (2,2) is \(r),\(g),\(b)")
        let q = image[x: 30, y: 22]  // bottom-right quadrant is yellow
        #expect(q.r > 180 && q.g > 180 && q.b < 90, "\(name)")
    }

    @Test func grayscaleJPEGBecomesRGB() throws {
        let image = try decode("gray.jpg")
        let gray = try #require(expected["gray"]).toArray(UInt8.self)
        let reference = gray.flatMap { [$0, $0, $0] }
        #expect(maxDifference(image, reference) < 12)
    }

    @Test func pngFlavours() throws {
        #expect(try decode("rgb.png").pixels == pattern)
        let gray = try #require(expected["gray"]).toArray(UInt8.self)
        #expect(try decode("gray.png").pixels == gray.flatMap { [$0, $0, $0] })
        // A one-channel PNG is grey by construction (isGrey trusts the decoder); an RGB one is looked at.
        #expect(try decode("gray.png").greyByConstruction && !decode("rgb.png").greyByConstruction)
        #expect(try decode("gray.png").isGrey && !decode("rgb.png").isGrey)
        #expect(try decode("gray16.png").pixels == gray.flatMap { [$0, $0, $0] })
        #expect(try decode("palette.png").pixels == expected["palette"]?.toArray(UInt8.self))
        // Alpha composited on white: transparent → white, half → halfway.
        let rgba = try decode("rgba.png")
        #expect(rgba[x: 5, y: 20] == (r: 255, g: 255, b: 255))
        let half = rgba[x: 15, y: 20]  // blue (30, 30, 200) at alpha 128 on white
        let expectedRed: Int = (30 * 128 + 255 * 127) / 255, expectedBlue: Int = (200 * 128 + 255 * 127) / 255
        #expect(abs(Int(half.r) - expectedRed) <= 1)
        #expect(abs(Int(half.b) - expectedBlue) <= 1)
        #expect(rgba[x: 30, y: 22] == (r: 220, g: 220, b: 40))
        var black = ImageDecoder()
        black.background = (0, 0, 0)
        let onBlack = try black.decode(Fixtures.url("images/gray_alpha.png"))[x: 5, y: 20]
        #expect(onBlack == (r: 0, g: 0, b: 0))
    }

    @Test func scaledJPEGDecodingCoversTheRequestedSide() throws {
        #expect(try decode("baseline.jpg", minimumSide: 15).height == 15)  // 1/2 scale
        #expect(try decode("baseline.jpg", minimumSide: 16).height >= 16)
        #expect(try decode("baseline.jpg", minimumSide: 100).height == 30)  // never upscaled
    }

    @Test(arguments: [
        ("truncated.jpg", "truncated or corrupt"), ("truncated.png", "truncated or corrupt"), ("empty.jpg", "is empty"),
        ("text.jpg", "is not a JPEG or PNG image"),
    ])
    func badFilesGetClearErrors(name: String, message: String) throws {
        do {
            _ = try decode(name)
            Issue.record("\(name) decoded without error")
        } catch let error as ImageError {
            #expect(error.description.contains(name) && error.description.contains(message), "\(error)")
        }
    }

    @Test func fileTypeComesFromMagicBytesNotExtension() throws {
        let folder = try Fixtures.temporaryFolder()
        let disguised = folder.appendingPathComponent("really_a_png.jpg")
        try FileManager.default.copyItem(at: Fixtures.url("images/rgb.png"), to: disguised)
        #expect(try ImageDecoder().decode(disguised).pixels == pattern)
    }

    /// Issue 12: an APP1 "Exif" segment that declares a length below its own header trapped.
    @Test func exifSegmentsThatLieAboutTheirLengthAreIgnored() throws {
        var bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x04] + Array("Exif\0\0".utf8)
        bytes += Array(repeating: UInt8(ascii: "0"), count: 16) + [0xFF, 0xD9]
        #expect(EXIF.orientation(in: bytes) == 1)
        for length: UInt8 in [0, 1, 2, 7, 8, 9, 10, 200] {
            var lying = bytes
            lying[5] = length
            #expect(EXIF.orientation(in: lying) == 1, "length \(length)")
        }
        // As a file: a clear error for the missing image data, not a crash.
        let file = try Fixtures.temporaryFolder().appendingPathComponent("x.jpg")
        try Data(bytes).write(to: file)
        #expect(throws: (any Error).self) { try ImageDecoder().decode(file) }
    }

    /// Issue 12: memory bombs are refused from their header, naming the size and the limit.
    @Test func imagesAboveThePixelLimitAreRefusedBeforeDecoding() throws {
        var decoder = ImageDecoder()
        decoder.maxPixels = 100
        for name in ["images/rgb.png", "images/baseline.jpg"] {
            do {
                _ = try decoder.decode(Fixtures.url(name))
                Issue.record("\(name) was decoded above the limit")
            } catch {
                #expect("\(error)".contains("above the limit of 0 megapixels") && "\(error)".contains(name), "\(error)")
            }
        }
        // A 60000 × 60000 JPEG header (a few hundred bytes): refused at the default limit without allocating 10 GB.
        var bomb = try [UInt8](Data(contentsOf: Fixtures.url("images/baseline.jpg")))
        let sof = try #require((0..<(bomb.count - 9)).first { bomb[$0] == 0xFF && bomb[$0 + 1] == 0xC0 })
        bomb.replaceSubrange((sof + 5)..<(sof + 9), with: [0xEA, 0x60, 0xEA, 0x60])
        let text =
            "\(try #require(throws: ImageError.self) { try ImageDecoder().decode(bomb, source: URL(fileURLWithPath: "bomb.jpg")) })"
        #expect(text.contains("60000 × 60000") && text.contains("bomb.jpg"), "\(text)")
    }

    @Test func antialiasedResizeMatchesPyTorch() throws {
        let reference = try Fixtures.tensors("resize_reference.safetensors")
        let source = try #require(reference["source"])
        for (h, w) in [(17, 23), (40, 30)] {
            let ours = try Functional.interpolateBilinear(source, size: (h, w), antialias: true)
            #expect(try maxAbsDifference(ours, #require(reference["aa_\(h)x\(w)"])) < 1e-3)
        }
        // Resize.shorterSide keeps the aspect ratio.
        #expect(try Resize.shorterSide(source[0], to: 30).shape == [3, 30, 41])
    }

    /// The presize cache writes a grey photo as a one-component JPEG; it must decode to the colour JPEG's pixels bit
    /// for bit, so entries made before and after the change, and a server's upload, all agree.
    @Test(arguments: [(64, 48), (301, 299), (300, 300)])
    func aGreyJPEGDecodesToTheColourJPEGsPixels(width: Int, height: Int) throws {
        var random = SeededRandom(seed: UInt64(width * height))
        // Texture (noise) on a gradient with hard edges: what stresses the DCT and the upsampling.
        let grey = (0..<(width * height)).map { i in
            UInt8(clamping: (i % width) * 255 / width / 2 + (i / width % 16 < 8 ? 60 : 0) + Int(random.next() % 64))
        }
        let image = RGBImage(width: width, height: height, pixels: grey.flatMap { [$0, $0, $0] })
        #expect(image.isGrey)
        let source = URL(fileURLWithPath: "grey.jpg")
        let one = try ImageEncoder.jpeg(image, chromaSubsampling: true)
        let colour = try ImageEncoder.jpeg(image, quality: 92, sampling: TJSAMP_420)
        #expect(one.count < colour.count)
        let decoded = try ImageDecoder().decode([UInt8](one), source: source)
        // Grey by construction (isGrey trusts the decoder): every pixel's three bytes are indeed equal.
        let p: [UInt8] = decoded.pixels
        let triples: Bool = stride(from: 0, to: p.count, by: 3).allSatisfy { (i: Int) -> Bool in
            p[i] == p[i + 1] && p[i] == p[i + 2]
        }
        #expect(decoded.greyByConstruction && decoded.isGrey && triples)
        // The colour JPEG of the same pixels decodes to them too, but only a look tells it is grey.
        let fromColour = try ImageDecoder().decode([UInt8](colour), source: source)
        #expect(!fromColour.greyByConstruction && fromColour.isGrey)
        #expect(decoded.oriented(6).greyByConstruction && decoded.boxShrunk(by: 2).greyByConstruction)
        #expect(decoded.pixels == fromColour.pixels)
        // Not a copy of the original: a lossy JPEG, within quality 92's error.
        #expect((1...40).contains(maxDifference(decoded, image.pixels)))

        var pixels = image.pixels
        pixels[0] &+= 1
        let tinted = RGBImage(width: width, height: height, pixels: pixels)
        #expect(
            try ImageEncoder.jpeg(tinted, chromaSubsampling: true)
                == ImageEncoder.jpeg(tinted, quality: 92, sampling: TJSAMP_420))
    }

    /// `isGrey` reads 16 pixels at a time and the rest one by one: one channel off by one anywhere makes it false.
    @Test func oneChannelOffAnywhereIsNotGrey() {
        let grey = RGBImage(width: 37, height: 5, pixels: (0..<185).flatMap { [UInt8($0), UInt8($0), UInt8($0)] })
        #expect(grey.isGrey)
        for step: UInt8 in [1, 2, 0x80] {  // odd and even differences, and the top bit alone
            let found = (0..<grey.pixels.count).filter { k in
                var pixels = grey.pixels
                pixels[k] &+= step
                return !RGBImage(width: 37, height: 5, pixels: pixels).isGrey
            }
            #expect(found.count == grey.pixels.count, "a channel off by \(step)")
        }
        let red = RGBImage(width: 20, height: 3, pixels: (0..<60).flatMap { _ in [254, 0, 0] as [UInt8] })
        #expect(!red.isGrey)
    }
}
