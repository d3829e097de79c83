import Foundation
import TestSupport
import Testing
import Torch

@Suite("Weights I/O")
struct WeightsTests {
    @Test func safetensorsRoundTripWithMetadata() throws {
        let folder = try Fixtures.temporaryFolder()
        let url = folder.appendingPathComponent("w.safetensors")
        let tensors: [String: Tensor] = [
            "a": try Tensor.randn([3, 4]),
            "b.c": try Tensor([1, -2, 3] as [Int64]),
            "d": try Tensor.randn([2, 3, 4, 5]).contiguous(.channelsLast),
            "e": try Tensor([0.5, 1.5] as [Double]),
            "flag": try Tensor([true, false]),
            "scalar": try Tensor([2.5] as [Float], shape: []),
        ]
        try Safetensors.write(tensors, metadata: ["arch": "efficientnet-lite0", "classes": "[\"a\",\"b\"]"], to: url)
        let (read, metadata) = try Safetensors.read(url)
        #expect(metadata == ["arch": "efficientnet-lite0", "classes": "[\"a\",\"b\"]"])
        #expect(Set(read.keys) == Set(tensors.keys))
        for (name, t) in tensors {
            let r = try #require(read[name])
            #expect(r.shape == t.shape && r.dtype == t.dtype, "\(name)")
            #expect(try r.rawBytes() == t.rawBytes(), "\(name)")
        }
        // The header is 8-byte aligned, as the format's reference writer makes it.
        let data = try Data(contentsOf: url)
        #expect(data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } % 8 == 0)
    }

    @Test func safetensorsRefusesGarbage() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("bad.safetensors")
        try Data("not a safetensors file at all".utf8).write(to: url)
        do {
            _ = try Safetensors.read(url)
            Issue.record("garbage was accepted")
        } catch let error as WeightsError {
            #expect(error.description.contains("bad.safetensors"))
        }
    }

    /// Issue 12: hostile headers (negative or overflowing offsets and shapes, a header length of 2^63) are
    /// refused with the file's name before anything is indexed or allocated.
    @Test(arguments: [
        (#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}"#, "outside the file's data"),
        (#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,9000000000000000000]}}"#, "outside the file's data"),
        (#"{"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, "impossible shape"),
        (#"{"t":{"dtype":"F32","shape":[-2,-1],"data_offsets":[0,8]}}"#, "impossible shape"),
        (#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, "do not hold"),
    ])
    func safetensorsRefusesHostileHeaders(header: String, message: String) throws {
        var json = Data(header.utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var file = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(Data(count: 8))
        let url = try Fixtures.temporaryFolder().appendingPathComponent("hostile.safetensors")
        try file.write(to: url)
        do {
            _ = try Safetensors.read(url)
            Issue.record("accepted: \(header)")
        } catch let error as WeightsError {
            #expect(
                error.description.contains("hostile.safetensors") && error.description.contains(message), "\(error)")
        }
        // A header length of 2^63 and more.
        var huge = file
        huge.replaceSubrange(0..<8, with: [0, 0, 0, 0, 0, 0, 0, 0x80])
        try huge.write(to: url)
        #expect(throws: WeightsError.self) { try Safetensors.read(url) }
    }

    @Test(arguments: ["checkpoint_zip.pth", "checkpoint_legacy.pth"])
    func readsPyTorchCheckpoints(name: String) throws {
        let expected = try Fixtures.tensors("checkpoint_expected.safetensors")
        let loaded = try Checkpoint.load(Fixtures.url(name))
        #expect(Set(loaded.keys) == Set(expected.keys))
        for (key, want) in expected {
            let got = try #require(loaded[key])
            #expect(got.shape == want.shape, "\(key)")
            #expect(got.dtype == want.dtype, "\(key)")
            #expect(try got.rawBytes() == want.rawBytes(), "\(name): \(key) differs")
        }
        #expect(try loaded["long"]?.toArray(Int64.self) == [1, -2, 3 << 40])
    }

    @Test func findsWrappedStateDict() throws {
        let loaded = try Checkpoint.load(Fixtures.url("checkpoint_wrapped.pth"))
        #expect(try loaded["w"]?.floats() == [1, 1])
    }

    @Test func refusesForbiddenGlobal() throws {
        do {
            _ = try Checkpoint.load(Fixtures.url("checkpoint_evil.pth"))
            Issue.record("a checkpoint calling os.system was accepted")
        } catch let error as PickleError {
            #expect(error.description.contains("posix.system"))
            #expect(error.description.contains("refusing"))
        }
    }

    @Test func truncatedCheckpointIsAnError() throws {
        let bytes = try Data(contentsOf: Fixtures.url("checkpoint_legacy.pth"))
        let url = try Fixtures.temporaryFolder().appendingPathComponent("cut.pth")
        try bytes.prefix(bytes.count - 40).write(to: url)
        #expect(throws: (any Error).self) { try Checkpoint.load(url) }
        let zipBytes = try Data(contentsOf: Fixtures.url("checkpoint_zip.pth"))
        try zipBytes.prefix(zipBytes.count / 2).write(to: url)
        #expect(throws: (any Error).self) { try Checkpoint.load(url) }
    }

    /// The shipped EfficientNet-Lite0 checkpoint (set-up cache): legacy format, HWIO-strided views.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func readsShippedLite0Checkpoint() throws {
        let url = Fixtures.cacheHome.appendingPathComponent("weights/efficientnet-lite0-57934424.pth")
        let state = try Checkpoint.load(url)
        #expect(state.count == 296)
        let stem = try #require(state["_conv_stem.weight"])
        #expect(stem.shape == [32, 3, 3, 3])
        // First values as PyTorch 1.13 reads them (torch.load(...)["_conv_stem.weight"].flatten()[:5]).
        let first = try stem.flattened().narrowed(dim: 0, 0..<5).floats()
        for (a, b) in zip(first, [-1.1103361, -1.3087704, -0.010156915, 0.92081195, 1.2259164] as [Float]) {
            #expect(abs(a - b) < 1e-6)
        }
        #expect(state["_fc.weight"]?.shape == [1000, 1280])
        #expect(state["_blocks.15._project_conv.weight"]?.shape == [320, 1152, 1, 1])
    }
}
