import Foundation
import TestSupport
import Testing
import Torch

@Suite("Neural-network ops against hand-computed values")
struct FunctionalTests {
    @Test func conv2dPlainAndGrouped() throws {
        let x = try Tensor.arange(1, 10, dtype: .float32).reshaped([1, 1, 3, 3])
        let w = try Tensor.ones([1, 1, 2, 2])
        #expect(try Functional.conv2d(x, weight: w).floats() == [12, 16, 24, 28])
        // Padding 1, stride 2: corners of the padded map.
        #expect(try Functional.conv2d(x, weight: w, stride: (2, 2), padding: (1, 1)).floats() == [1, 5, 11, 28])
        let bias = try Tensor([0.5] as [Float])
        #expect(try Functional.conv2d(x, weight: w, bias: bias).floats() == [12.5, 16.5, 24.5, 28.5])
        // groups = 2: each channel scaled by its own 1×1 kernel.
        let y = try Tensor([1, 2, 3, 4, 5, 6, 7, 8] as [Float], shape: [1, 2, 2, 2])
        let gw = try Tensor([2, 3] as [Float], shape: [2, 1, 1, 1])
        #expect(try Functional.conv2d(y, weight: gw, groups: 2).floats() == [2, 4, 6, 8, 15, 18, 21, 24])
        // Wrong channel count throws.
        #expect(throws: TorchError.self) { try Functional.conv2d(y, weight: w) }
    }

    @Test func batchNormTrainingUpdatesRunningStatistics() throws {
        let x = try Tensor([1, 3] as [Float], shape: [2, 1])
        let mean = try Tensor.zeros([1]), variance = try Tensor.ones([1])
        let y = try Functional.batchNorm(
            x, weight: nil, bias: nil, runningMean: mean, runningVar: variance, training: true, eps: 0)
        #expect(try y.floats() == [-1, 1])
        #expect(try abs(mean.item() - 0.2) < 1e-6)
        #expect(try abs(variance.item() - 1.1) < 1e-6)  // unbiased batch variance 2
        let e = try Functional.batchNorm(
            x, weight: Tensor.full([1], 2), bias: Tensor.full([1], 1), runningMean: mean,
            runningVar: variance, training: false, eps: 0)
        let expected = [(1 - 0.2) / 1.1.squareRoot() * 2 + 1, (3 - 0.2) / 1.1.squareRoot() * 2 + 1]
        for (a, b) in zip(try e.toArray(Double.self), expected) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func softmaxAndLosses() throws {
        let s = try Functional.softmax(Tensor([0, Foundation.log(2)] as [Double]), dim: 0).toArray(Double.self)
        #expect(abs(s[0] - 1.0 / 3) < 1e-12 && abs(s[1] - 2.0 / 3) < 1e-12)
        let logits = try Tensor([0, 0, 0, Foundation.log(3)] as [Double], shape: [2, 2])
        let target = try Tensor([0, 1] as [Int64])
        let plain = try Functional.crossEntropy(logits, target: target).item()
        #expect(abs(plain - (Foundation.log(2) + Foundation.log(4.0 / 3)) / 2) < 1e-12)
        let weighted = try Functional.crossEntropy(logits, target: target, weight: Tensor([1, 2] as [Double])).item()
        #expect(abs(weighted - (Foundation.log(2) + 2 * Foundation.log(4.0 / 3)) / 3) < 1e-12)
        let logp = try Functional.logSoftmax(logits, dim: 1)
        #expect(try abs(Functional.nllLoss(logp, target: target).item() - plain) < 1e-12)
        let none = try Functional.crossEntropy(logits, target: target, reduction: .none).toArray(Double.self)
        #expect(abs(none[0] - Foundation.log(2)) < 1e-12)
        // A target out of range is an error, not a crash.
        #expect(throws: TorchError.self) { try Functional.crossEntropy(logits, target: Tensor([0, 5] as [Int64])) }
    }

    @Test func pooling() throws {
        let x = try Tensor.arange(1, 17, dtype: .float32).reshaped([1, 1, 4, 4])
        #expect(try Functional.maxPool2d(x, kernel: (2, 2)).floats() == [6, 8, 14, 16])
        #expect(try Functional.avgPool2d(x, kernel: (2, 2)).floats() == [3.5, 5.5, 11.5, 13.5])
        #expect(try Functional.adaptiveAvgPool2d(x, outputSize: (1, 1)).floats() == [8.5])
        #expect(try Functional.adaptiveMaxPool2d(x, outputSize: (1, 1)).floats() == [16])
        #expect(
            try Functional.maxPool2d(x, kernel: (3, 3), stride: (2, 2), padding: (1, 1)).floats() == [6, 8, 14, 16])
    }

    @Test func dropout() throws {
        Torch.manualSeed(0)
        let x = try Tensor.ones([10_000])
        let y = try Functional.dropout(x, p: 0.5, training: true).floats()
        let zeros = y.filter { $0 == 0 }.count
        #expect(zeros > 4_700 && zeros < 5_300)
        #expect(y.allSatisfy { $0 == 0 || $0 == 2 })
        #expect(try Functional.dropout(x, p: 0.5, training: false).floats() == x.floats())
    }

    @Test func padAndInterpolate() throws {
        let x = try Tensor([1, 2] as [Float], shape: [1, 2])
        #expect(try Functional.pad(x, [1, 2], value: 9).floats() == [9, 1, 2, 9, 9])
        let img = try Tensor([0, 1, 2, 3] as [Float], shape: [1, 1, 2, 2])
        let up = try Functional.interpolateBilinear(img, size: (4, 4), alignCorners: true).floats()
        let row0 = Array(up[0..<4]), col0 = [up[0], up[4], up[8], up[12]]
        for (a, b) in zip(row0, [0, 1.0 / 3, 2.0 / 3, 1] as [Float]) { #expect(abs(a - b) < 1e-6) }
        for (a, b) in zip(col0, [0, 2.0 / 3, 4.0 / 3, 2] as [Float]) { #expect(abs(a - b) < 1e-6) }
        // Antialiased shrink of a constant image stays constant; of a checkerboard it averages.
        let board = try Tensor((0..<64).map { Float(($0 / 8 + $0 % 8) % 2) }, shape: [1, 1, 8, 8])
        let small = try Functional.interpolateBilinear(board, size: (2, 2), antialias: true).floats()
        for v in small { #expect(abs(v - 0.5) < 0.02) }
    }

    @Test func affineGridAndGridSample() throws {
        let x = try Tensor.arange(0, 16, dtype: .float32).reshaped([1, 1, 4, 4])
        let identity = try Tensor([1, 0, 0, 0, 1, 0] as [Float], shape: [1, 2, 3])
        let grid = try Functional.affineGrid(identity, size: [1, 1, 4, 4])
        #expect(grid.shape == [1, 4, 4, 2])
        #expect(try maxAbsDifference(Functional.gridSample(x, grid: grid), x) < 1e-5)
        // Shift by one pixel (0.5 in normalised units for width 4): column j reads column j + 1.
        let shift = try Tensor([1, 0, 0.5, 0, 1, 0] as [Float], shape: [1, 2, 3])
        let moved = try Functional.gridSample(x, grid: Functional.affineGrid(shift, size: [1, 1, 4, 4])).floats()
        #expect(Array(moved[0..<4]).map { ($0 * 1000).rounded() / 1000 } == [1, 2, 3, 0])
        let border = try Functional.gridSample(
            x, grid: Functional.affineGrid(shift, size: [1, 1, 4, 4]), padding: .border
        ).floats()
        #expect(border[3] == 3)
        #expect(throws: TorchError.self) { try Functional.affineGrid(identity, size: [1, 4, 4]) }
    }
}
