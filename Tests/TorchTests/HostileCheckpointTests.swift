import Foundation
import TestSupport
import Testing
import Torch

/// Legacy checkpoints built byte by byte, with the lengths, counts and offsets a hostile file can lie about
/// (issue 12). Each must be an error naming the file; before the fix each one trapped or read out of bounds.
@Suite("Hostile checkpoints")
struct HostileCheckpointTests {
    let source = URL(fileURLWithPath: "/data/hostile.pth")

    /// PyTorch's legacy layout: magic, protocol 1001, system info, the state dict `{"w": tensor}`, the storage
    /// key list `["0"]`, then storage "0" as an 8-byte element count and its float32 data.
    func legacy(
        offset: Int32 = 0, shape: [UInt8] = [2], strides: [UInt8] = [1], elements: UInt64 = 2,
        data: [Float] = [1, 2], root: [UInt8]? = nil
    ) -> [UInt8] {
        func text(_ s: String) -> [UInt8] { [0x58] + le(UInt32(s.utf8.count)) + Array(s.utf8) }  // BINUNICODE
        func tuple(_ items: [UInt8]) -> [UInt8] { items.flatMap { [0x4B, $0] } + [0x85] }  // BININT1…, TUPLE1
        let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
        let version: [UInt8] = [0x80, 0x02, 0x4D, 0xE9, 0x03, 0x2E]  // 1001
        let system: [UInt8] = [0x80, 0x02, 0x7D, 0x2E]  // {}
        var storage: [UInt8] = [0x28] + text("storage") + Array("ctorch\nFloatStorage\n".utf8) + text("0")
        storage += text("cpu") + [0x4B, 2, 0x74, 0x51]  // count, TUPLE, BINPERSID
        let shapeTuple = shape.count == 1 ? tuple(shape) : [0x28] + shape.flatMap { [0x4B, $0] } + [0x74]
        let strideTuple = strides.count == 1 ? tuple(strides) : [0x28] + strides.flatMap { [0x4B, $0] } + [0x74]
        var state: [UInt8] = [0x80, 0x02, 0x7D] + text("w") + Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8)
        state += [0x28] + storage + [0x4A] + le(UInt32(bitPattern: offset)) + shapeTuple + strideTuple
        state += [0x89, 0x74, 0x52, 0x73, 0x2E]  // False, TUPLE, REDUCE, SETITEM, STOP
        let keys: [UInt8] = [0x80, 0x02, 0x5D] + text("0") + [0x61, 0x2E]  // ["0"]
        let raw = data.flatMap { le($0.bitPattern) }
        return magic + version + system + (root ?? state) + keys + le(elements) + raw
    }

    func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    func message(_ bytes: [UInt8]) -> String? {
        do {
            _ = try Checkpoint.load(bytes, source: source)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theBuilderMakesAReadableCheckpoint() throws {
        let state = try Checkpoint.load(legacy(), source: source)
        #expect(try state["w"]?.floats() == [1, 2])
    }

    @Test func hugeStorageCountIsRefused() throws {
        let text = try #require(message(legacy(elements: 1 << 62)))
        #expect(text.contains("/data/hostile.pth") && text.contains("truncated inside storage 0"), "\(text)")
        #expect(message(legacy(elements: UInt64.max)) != nil)
    }

    @Test func negativeOrOutsideOffsetsAreRefused() throws {
        let negative = try #require(message(legacy(offset: -1)))
        #expect(negative.contains("outside its storage"), "\(negative)")
        #expect(try #require(message(legacy(offset: 5))).contains("outside its storage"))
        // Inside the storage, but the view's last element is past it.
        #expect(try #require(message(legacy(offset: 1))).contains("reads past"))
    }

    @Test func shapesAndStridesThatOverflowAreRefused() throws {
        #expect(
            message(legacy(shape: [255, 255, 255, 255, 255, 255, 255, 255], strides: [1, 1, 1, 1, 1, 1, 1, 1])) != nil)
        #expect(message(legacy(shape: [2], strides: [200])) != nil)
    }

    @Test func aStateDictThatContainsItselfIsAnError() throws {
        // {"state_dict": <the same dict>} through the memo: PUT 0 then GET 0.
        let cyclic: [UInt8] =
            [0x80, 0x02, 0x7D, 0x71, 0x00, 0x58, 10, 0, 0, 0] + Array("state_dict".utf8)
            + [0x68, 0x00, 0x73, 0x2E]
        let text = try #require(message(legacy(root: cyclic)))
        #expect(text.contains("too deeply"), "\(text)")
    }

    /// 300,000 lists each inside the next (a few KB once compressed): an error, not a stack overflow while the
    /// nest is built, walked or freed.
    @Test func deeplyNestedContainersAreAnError() throws {
        let depth = 300_000
        let lists = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1)
        let text = try #require(message(legacy(root: lists + [0x2E])))
        #expect(text.contains("/data/hostile.pth") && text.contains("nests"), "\(text)")
        let tuples = [0x80, 0x02, 0x29] + [UInt8](repeating: 0x85, count: depth)  // (), then TUPLE1 again and again
        #expect(try #require(message(legacy(root: tuples + [0x2E]))).contains("nests"))
    }

    @Test func aDamagedZipDirectoryIsAnError() throws {
        var bytes = [UInt8](try Data(contentsOf: Fixtures.url("checkpoint_zip.pth")))
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        let found = (0..<(bytes.count - 4)).first { (i: Int) -> Bool in Array(bytes[i..<(i + 4)]) == signature }
        let directory = try #require(found)
        bytes[directory + 28] = 0xFF  // name length 65535: runs past the file
        bytes[directory + 29] = 0xFF
        let text = try #require(message(bytes))
        #expect(text.contains("entry name lies outside the file"), "\(text)")
    }

    @Test func aStringLongerThanTheFileIsAnError() throws {
        // BINUNICODE8 with a length near Int.max: the position + length sum must not overflow.
        let root: [UInt8] = [0x80, 0x02, 0x8D] + le(UInt64(Int.max - 2)) + [0x2E]
        #expect(try #require(message(legacy(root: root))).contains("unexpected end of data"))
    }
}
