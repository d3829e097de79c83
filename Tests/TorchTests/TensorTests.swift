import Foundation
import Testing
import Torch

@Suite("Tensor basics")
struct TensorTests {
    @Test func roundTripsValuesShapeAndDtype() throws {
        let t = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        #expect(t.shape == [2, 3])
        #expect(t.strides == [3, 1])
        #expect(t.dtype == .float32)
        #expect(t.count == 6)
        #expect(try t.floats() == [1, 2, 3, 4, 5, 6])
        #expect(try Tensor([7, 8] as [Int64]).toArray(Int64.self) == [7, 8])
        #expect(try Tensor([true, false]).toArray(Bool.self) == [true, false])
        #expect(try Tensor([1, 255] as [UInt8]).to(.float32).floats() == [1, 255])
    }

    @Test func rejectsWrongValueCount() {
        #expect(throws: TorchError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
    }

    @Test func copiesStridedBuffersRespectingStrides() throws {
        // A 2×3 view of 0...5 with column-major strides: [[0, 2, 4], [1, 3, 5]].
        let raw: [Float] = [0, 1, 2, 3, 4, 5]
        let t = try raw.withUnsafeBytes {
            try Tensor.copying(bytes: $0, dtype: .float32, shape: [2, 3], strides: [1, 2])
        }
        #expect(try t.floats() == [0, 2, 4, 1, 3, 5])
        #expect(t.isContiguous())
        // A view that would read past the buffer is refused.
        #expect(throws: TorchError.self) {
            try raw.withUnsafeBytes { try Tensor.copying(bytes: $0, dtype: .float32, shape: [3, 3], strides: [3, 1]) }
        }
    }

    @Test func creationFunctions() throws {
        #expect(try Tensor.zeros([2, 2]).floats() == [0, 0, 0, 0])
        #expect(try Tensor.ones([3], dtype: .float64).toArray(Double.self) == [1, 1, 1])
        #expect(try Tensor.full([2], 2.5).floats() == [2.5, 2.5])
        #expect(try Tensor.arange(0, 5).toArray(Int64.self) == [0, 1, 2, 3, 4])
        #expect(try Tensor.arange(0, 1, step: 0.25, dtype: .float32).floats() == [0, 0.25, 0.5, 0.75])
        Torch.manualSeed(42)
        let a = try Tensor.randn([100]).floats()
        Torch.manualSeed(42)
        let b = try Tensor.randn([100]).floats()
        #expect(a == b)
        let u = try Tensor.rand([1000])
        #expect(try u.min().item() >= 0 && u.max().item() < 1)
        #expect(try Set(Tensor.randperm(10).toArray(Int64.self)) == Set(0..<10))
    }

    @Test func arithmeticBroadcastsAndKeepsIntegers() throws {
        let a = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
        let row = try Tensor([10, 20] as [Float], shape: [1, 2])
        #expect(try (a + row).floats() == [11, 22, 13, 24])
        #expect(try (a * a - a).floats() == [0, 2, 6, 12])
        #expect(try (a / 2).floats() == [0.5, 1, 1.5, 2])
        #expect(try (1 - a).floats() == [0, -1, -2, -3])
        #expect(try a.pow(2).floats() == [1, 4, 9, 16])
        #expect(try (-a).relu().floats() == [0, 0, 0, 0])
        #expect(try (a * 3).relu6().floats() == [3, 6, 6, 6])
        let i = try Tensor([1, 2] as [Int64])
        #expect(try (i + 2).dtype == .int64)
        #expect(try a.gt(2).toArray(Bool.self) == [false, false, true, true])
        #expect(try Tensor.where(a.gt(2), a, Tensor.zeros([2, 2])).floats() == [0, 0, 3, 4])
        #expect(try a.clamp(2, 3).floats() == [2, 2, 3, 3])
    }

    @Test func shapeMismatchThrowsWithLibtorchMessage() throws {
        let a = try Tensor.zeros([2, 3]), b = try Tensor.zeros([4])
        do {
            _ = try a + b
            Issue.record("adding [2, 3] and [4] should fail")
        } catch let error as TorchError {
            #expect(error.message.contains("size of tensor a (3) must match the size of tensor b (4)"))
        }
        // The error is consumed: the next call succeeds.
        #expect(try (a + a).shape == [2, 3])
        #expect(throws: TorchError.self) { try a.matmul(a) }
    }

    @Test func reductions() throws {
        let a = try Tensor([1, 5, 3, 2, 8, 4] as [Float], shape: [2, 3])
        #expect(try a.sum().item() == 23)
        #expect(try a.sum([1]).floats() == [9, 14])
        #expect(try a.mean([0]).floats() == [1.5, 6.5, 3.5])
        #expect(try a.max([1]).floats() == [5, 8])
        #expect(try a.min().item() == 1)
        #expect(try a.sum([1], keepDim: true).shape == [2, 1])
        #expect(try a.argmax(dim: 1).toArray(Int64.self) == [1, 1])
        #expect(try a.prod([1]).floats() == [15, 64])
        #expect(try Tensor([1, 2, 3, 4] as [Double]).variance().item() == 5.0 / 3.0)
        let (values, indices) = try a.topk(2, dim: 1)
        #expect(try values.floats() == [5, 3, 8, 4])
        #expect(try indices.toArray(Int64.self) == [1, 2, 1, 2])
        let sorted = try Tensor([3, 1, 2] as [Float]).sorted()
        #expect(try sorted.values.floats() == [1, 2, 3])
        #expect(try sorted.indices.toArray(Int64.self) == [1, 2, 0])
    }

    @Test func matmul() throws {
        let a = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let b = try Tensor([7, 8, 9, 10, 11, 12] as [Float], shape: [3, 2])
        #expect(try a.matmul(b).floats() == [58, 64, 139, 154])
    }

    @Test func indexingAndShapes() throws {
        let a = try Tensor.arange(0, 12, dtype: .float32).reshaped([3, 4])
        #expect(try a[1].floats() == [4, 5, 6, 7])
        #expect(try a.selecting(dim: 1, 2).floats() == [2, 6, 10])
        #expect(try a.narrowed(dim: 1, 1..<3).floats() == [1, 2, 5, 6, 9, 10])
        #expect(try a.indexSelect(dim: 0, [2, 0]).floats() == [8, 9, 10, 11, 0, 1, 2, 3])
        #expect(try a.transposed(0, 1).shape == [4, 3])
        #expect(try a.transposed(0, 1).contiguous().floats()[0..<3] == [0, 4, 8])
        #expect(try a.permuted([1, 0]).strides == [1, 4])
        #expect(try Tensor.cat([a, a], dim: 0).shape == [6, 4])
        #expect(try Tensor.stack([a, a], dim: 1).shape == [3, 2, 4])
        #expect(try a.unsqueezed(0).shape == [1, 3, 4])
        #expect(try a.unsqueezed(0).squeezed(0).shape == [3, 4])
        #expect(try a.flipped([1])[0].floats() == [3, 2, 1, 0])
        #expect(try a.reshaped([2, -1]).shape == [2, 6])
        #expect(try a.flattened().shape == [12])
        #expect(try Tensor([1, 2] as [Float], shape: [2, 1]).expanded([2, 3]).floats() == [1, 1, 1, 2, 2, 2])
        #expect(try a.asStrided([2, 2], strides: [4, 1], offset: 1).floats() == [1, 2, 5, 6])
    }

    @Test func memoryFormats() throws {
        let x = try Tensor.randn([2, 3, 4, 5])
        #expect(x.isContiguous())
        let cl = try x.contiguous(.channelsLast)
        #expect(cl.isContiguous(.channelsLast))
        #expect(!cl.isContiguous())
        #expect(cl.strides == [60, 1, 15, 3])
        #expect(try maxAbs(x, cl) == 0)
        #expect(try cl.floats() == x.floats())
    }

    @Test func threadsAndVersion() {
        let before = Torch.threads
        Torch.threads = 1
        #expect(Torch.threads == 1)
        Torch.threads = before
        #expect(Torch.version.hasPrefix("1.") || Torch.version.hasPrefix("2."))
    }

    @Test func everyDTypeRoundTripsThroughTheShimCodes() throws {
        for dtype in DType.allCases {
            #expect(try Tensor.zeros([2], dtype: dtype).dtype == dtype, "\(dtype)")
        }
    }

    @Test func autocastScopesNest() throws {
        let a = try Tensor.randn([4, 4]), b = try Tensor.randn([4, 4])
        #expect(!Torch.isAutocastEnabled)
        let (inner, outerAfterInner, enabledAfterInner): (DType, DType, Bool) = try Torch.withAutocast {
            let inner = try Torch.withAutocast { try a.matmul(b).dtype }
            // The inner scope's end leaves the outer one in force.
            return (inner, try a.matmul(b).dtype, Torch.isAutocastEnabled)
        }
        #expect(inner == .bfloat16 && outerAfterInner == .bfloat16 && enabledAfterInner)
        #expect(!Torch.isAutocastEnabled)
        #expect(try a.matmul(b).dtype == .float32)
        // An error inside a scope still ends it.
        #expect(throws: TorchError.self) { try Torch.withAutocast { throw TorchError("inside") } }
        #expect(!Torch.isAutocastEnabled)
    }

    /// glibc takes every setting of ``Torch/keepFreedMemory()``: mallopt refuses a value out of its range (a trim
    /// threshold past INT_MAX, say), and a refused one leaves big tensors' pages going back to the kernel each batch.
    @Test func glibcTakesTheFreedMemorySettings() {
        #if canImport(Glibc)
            #expect(Torch.keepFreedMemory())
        #endif
    }

    /// Threads allocate from at most two malloc arenas (`limit_arenas`, when the shim loads): six threads that each
    /// hold a block at once would otherwise make an arena each (glibc allows 8 per core), and batches built on
    /// loader threads kept faulting fresh pages in.
    @Test func threadsShareTwoMallocArenas() {
        #if canImport(Glibc)
            let group = DispatchGroup(), allocated = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
            for _ in 0..<6 {
                group.enter()
                Thread {
                    let block = malloc(1 << 20)
                    if let block { memset(block, 1, 1 << 20) }
                    allocated.signal()
                    release.wait()
                    free(block)
                    group.leave()
                }.start()
            }
            for _ in 0..<6 { allocated.wait() }
            let arenas = Torch.mallocArenas
            for _ in 0..<6 { release.signal() }
            group.wait()
            #expect(arenas.map { (1...2).contains($0) } == true, "\(arenas.map(String.init) ?? "no count") arenas")
        #endif
    }

    private func maxAbs(_ a: Tensor, _ b: Tensor) throws -> Double { try (a - b).abs().max().item() }
}
