import NN
import TestSupport
import Testing
import Torch

@testable import Learn
@testable import Vision

@Suite("BatchNorm when freezing")
struct FreezeBatchNormTests {
    @Test func bodyStatisticsCanStayFixedWhenUnfrozen() throws {
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        let (x, y) = (try Tensor.randn([4, 3, 32, 32]), try Tensor([0, 1, 0, 1] as [Int64]))
        let learner = try Learner(classifier, train: FeatureBatches(features: x, labels: y), valid: nil)
        let bodyBN = classifier.body.namedModules().compactMap { $0.module as? BatchNorm }
        let headBN = classifier.head.namedModules().compactMap { $0.module as? BatchNorm }
        learner.updateBodyBatchNormStatistics = false
        try learner.unfreeze()
        #expect(!bodyBN.isEmpty && bodyBN.allSatisfy { !$0.updatesStatistics })
        #expect(headBN.allSatisfy { $0.updatesStatistics })
        let before = try bodyBN[0].runningMean.floats()
        classifier.train()
        _ = try classifier(x)
        #expect(try bodyBN[0].runningMean.floats() == before)
        #expect(bodyBN.allSatisfy { $0.weight.requiresGrad })
        learner.updateBodyBatchNormStatistics = true
        try learner.unfreeze()
        _ = try classifier(x)
        #expect(try bodyBN[0].runningMean.floats() != before)
    }

    /// `inSlices` runs each step over every slice in turn (10 photos in slices of 4: 4, 4, 2 per step) and joins them
    /// before the next step; a step drawing one random number per photo draws the whole batch's numbers.
    @Test func slicesRunStepByStep() throws {
        var seen: [[Int]] = [[], []]
        let steps: [(Tensor) throws -> Tensor] = (0..<2).map { k in
            { x in
                seen[k].append(x.shape[0])
                return try x * Double(k + 2) + (Tensor.rand([x.shape[0], 1]) + 0.5).floor()
            }
        }
        let x = try Tensor.randn([10, 3])
        Torch.manualSeed(7)
        let whole = try steps.reduce(x) { try $1($0) }
        seen = [[], []]
        Torch.manualSeed(7)
        let sliced = try Classifier.inSlices(x, of: 4, through: steps)
        #expect(seen == [[4, 4, 2], [4, 4, 2]])
        #expect(try maxAbsDifference(whole, sliced) < 1e-6)
        seen = [[], []]
        _ = try Classifier.inSlices(x, of: 10, through: steps)
        #expect(seen == [[10], [10]])
    }

    /// In evaluation, float32 batches on the CPU run their early group photo by photo
    /// (``Classifier/evaluationSlice(for:)``): the same logits as whole batches up to rounding; not under autocast, not
    /// for one photo, not when set to 0.
    @Test func evaluationRunsTheEarlyGroupPhotoByPhoto() throws {
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        classifier.eval()
        let x = try Tensor.randn([3, 3, 64, 64])
        #expect(classifier.evaluationSlice(for: x) == 1)
        #expect(classifier.evaluationSlice(for: try x.narrowed(dim: 0, 0..<1)) == nil)
        let underAutocast = try Torch.withAutocast { classifier.evaluationSlice(for: x) }
        #expect(underAutocast == nil)
        let sliced = try Torch.withoutGrad { try classifier(x) }
        classifier.evaluationSliceSize = 0
        #expect(classifier.evaluationSlice(for: x) == nil)
        let whole = try Torch.withoutGrad { try classifier(x) }
        let scale = try whole.abs().max().item()
        let difference = try maxAbsDifference(whole, sliced)
        #expect(scale > 0 && difference <= 1e-5 * scale, "largest difference \(difference), scale \(scale)")
    }

    /// In training mode a fixed early group runs in slices of ``Classifier/earlySliceSize`` photos: each photo's
    /// features are the whole batch's up to rounding (6 photos in slices of 4 and 2 here), stochastic depth's draws
    /// included, the late group still gets its gradients and the early one none. While a BatchNorm of that group
    /// normalises with the batch, the group runs over the whole batch (slices would normalise with other statistics).
    @Test func aFixedEarlyGroupRunsInSlices() throws {
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        let x = try Tensor.randn([6, 3, 64, 64])
        let labels = try Tensor([0, 1, 0, 1, 0, 1] as [Int64])
        let learner = try Learner(classifier, train: FeatureBatches(features: x, labels: labels), valid: nil)
        learner.updateBodyBatchNormStatistics = false
        learner.trainFrozenBatchNorm = false
        try learner.freeze(upTo: 1)
        classifier.train()
        // No stochastic depth: its draws would make the two passes differ by more than rounding.
        for block in try #require(classifier.body as? EfficientNetLite).blocks { block.dropConnect = 0 }
        func features(inSlicesOf size: Int) throws -> Tensor {
            classifier.earlySliceSize = size
            return try classifier.features(x)
        }
        let whole = try features(inSlicesOf: 6)
        let sliced = try features(inSlicesOf: 4)
        let scale = try whole.abs().max().item()
        let difference = try maxAbsDifference(whole, sliced)
        #expect(scale > 0 && difference <= 1e-5 * scale, "largest difference \(difference), scale \(scale)")
        try sliced.sum().backward()
        let (early, late) = (classifier.layerGroups[0], classifier.layerGroups[1])
        let lateGrads = try late.flatMap(\.parameters).map { try $0.grad }
        #expect(lateGrads.contains { $0 != nil })

        // With stochastic depth (here at a rate that drops many photos), the same seed gives the same features:
        // the slices draw their masks in the whole batch's order.
        for block in try #require(classifier.body as? EfficientNetLite).blocks { block.dropConnect = 0.5 }
        Torch.manualSeed(1)
        let wholeDropped = try features(inSlicesOf: 6)
        Torch.manualSeed(1)
        let slicedDropped = try features(inSlicesOf: 4)
        #expect(try maxAbsDifference(wholeDropped, whole) > 1e-3 * scale)
        #expect(try maxAbsDifference(wholeDropped, slicedDropped) <= 1e-5 * scale)
        for block in try #require(classifier.body as? EfficientNetLite).blocks { block.dropConnect = 0 }

        let earlyBN = early.flatMap { $0.namedModules().compactMap { $0.module as? BatchNorm } }
        for bn in earlyBN { bn.updatesStatistics = true }
        let batchNormalised = try features(inSlicesOf: 6)
        #expect(try maxAbsDifference(batchNormalised, whole) > 1e-3 * scale)
        #expect(try features(inSlicesOf: 4).floats() == batchNormalised.floats())
    }
}

@Suite("Recipe BatchNorm switch", .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct RecipeBatchNormSwitchTests {
    @Test func freezingStatisticsChangesTraining() throws {
        let root = try makeKaggleDataSet(trainCount: 16, testCount: 1, size: 40)
        let data = try DataSource.labelled(root)
        func losses(_ freeze: Bool) throws -> [Double] {
            Torch.manualSeed(0)
            let classifier = try Classifier(.efficientNetLite0, classes: data.classes)
            let loader = DataLoader(data, size: 32, batchSize: 8, shuffle: true, normalization: .tfLite)
            let learner = try Learner(classifier, train: loader, valid: nil)
            learner.verbose = false
            var recipe = Recipe()
            recipe.precomputeEpochs = 1
            recipe.headCycles = 1
            recipe.unfrozenCycles = 1
            recipe.cycleLength = 6
            recipe.freezeBatchNormStatistics = freeze
            _ = try learner.run(recipe, classifier: classifier, trainLoader: loader, validLoader: nil, featureKey: nil)
            return learner.recorder.steps.map(\.loss)
        }
        #expect(try losses(true) != losses(false))
    }
}

@Suite("Recipe early-body freeze", .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct RecipeUnfrozenFromTests {
    /// `unfrozenFrom = 1` keeps the early body (BatchNorm included) bit-identical through the unfrozen
    /// phase while the late body trains.
    @Test func earlyBodyStaysFixed() throws {
        let root = try makeKaggleDataSet(trainCount: 16, testCount: 1, size: 40)
        let data = try DataSource.labelled(root)
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: data.classes)
        let loader = DataLoader(data, size: 32, batchSize: 8, shuffle: true, normalization: .tfLite)
        let learner = try Learner(classifier, train: loader, valid: nil)
        learner.verbose = false
        func snapshot(_ group: Int) throws -> [[Float]] {
            try classifier.layerGroups[group].flatMap(\.parameters).map { try $0.floats() }
        }
        let (early, late) = (try snapshot(0), try snapshot(1))
        var recipe = Recipe()
        recipe.precomputeEpochs = 0
        recipe.headCycles = 0
        recipe.unfrozenCycles = 1
        recipe.cycleLength = 6
        recipe.unfrozenFrom = 1
        _ = try learner.run(recipe, classifier: classifier, trainLoader: loader, validLoader: nil, featureKey: nil)
        #expect(try snapshot(0) == early)
        #expect(try snapshot(1) != late)
        #expect(classifier.layerGroups[0].flatMap(\.parameters).allSatisfy { !$0.requiresGrad })
    }

    /// With `earlyBodyMixedPrecision`, a training forward pass of the recipe's unfrozen phase (early group frozen,
    /// statistics fixed) runs the early group in bf16 without gradients: the features are within bf16's rounding of
    /// float32's but not equal, the late group still gets its gradients, the early one none; evaluation ignores it, and
    /// so does a pass while the early group's BatchNorm trains (it would get no gradient).
    @Test func theEarlyBodyRunsInBF16OnlyWhenTrainingAndFrozen() throws {
        Torch.manualSeed(0)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"])
        let x = try Tensor.rand([2, 3, 64, 64]) * 2 - 1
        let learner = try Learner(
            classifier, train: FeatureBatches(features: x, labels: Tensor([0, 1] as [Int64])), valid: nil)
        learner.updateBodyBatchNormStatistics = false
        learner.trainFrozenBatchNorm = false
        try learner.freeze(upTo: 1)
        classifier.train()
        // No stochastic depth: its draws would make the two passes differ by more than rounding.
        for block in try #require(classifier.body as? EfficientNetLite).blocks { block.dropConnect = 0 }
        let float32 = try classifier.features(x).floats()
        classifier.earlyBodyMixedPrecision = true
        let features = try classifier.features(x)
        let mixed = try features.floats()
        // Relative to the features' norm: 3.8–5.0 % here (the kernels oneDNN picks vary with the threads in use).
        let norm = float32.map { Double($0 * $0) }.reduce(0, +).squareRoot()
        let moved = zip(float32, mixed).map { Double(($0 - $1) * ($0 - $1)) }.reduce(0, +).squareRoot()
        #expect(norm > 0 && moved > 0 && moved < 0.1 * norm, "moved \(moved / norm) of the norm")
        try features.sum().backward()
        let (early, late) = (classifier.layerGroups[0], classifier.layerGroups[1])
        let lateGrads = try late.flatMap(\.parameters).map { try $0.grad }
        #expect(lateGrads.contains { $0 != nil })
        // The frozen early body, run in bf16, takes no gradients.
        #expect(try early.flatMap(\.parameters).allSatisfy { try $0.grad == nil })
        func largestChange(_ values: [Float]) -> Float { zip(float32, values).map { abs($0 - $1) }.max() ?? 0 }
        learner.trainFrozenBatchNorm = true
        try learner.freeze(upTo: 1)
        #expect(try largestChange(classifier.features(x).floats()) < 1e-5)
        classifier.eval()
        let evaluated = try classifier.features(x).floats()
        classifier.earlyBodyMixedPrecision = false
        #expect(try evaluated == classifier.features(x).floats())
    }

    /// The recipe's `earlyBodyMixedPrecision` holds for its unfrozen phase: the steps' losses move (bf16's rounding
    /// of the early body's output), the early body stays fixed, and the classifier is left in float32 afterwards.
    @Test func theRecipeRunsTheFrozenEarlyBodyInBF16() throws {
        let root = try makeKaggleDataSet(trainCount: 16, testCount: 1, size: 40)
        let data = try DataSource.labelled(root)
        func run(
            _ mixed: Bool, unfrozenFrom: Int = 1
        ) throws -> (
            losses: [Double], classifier: Classifier, early: [[Float]]
        ) {
            Torch.manualSeed(0)
            let classifier = try Classifier(.efficientNetLite0, classes: data.classes)
            let loader = DataLoader(data, size: 32, batchSize: 8, shuffle: true, normalization: .tfLite)
            let learner = try Learner(classifier, train: loader, valid: nil)
            learner.verbose = false
            let early = try classifier.layerGroups[0].flatMap(\.parameters).map { try $0.floats() }
            var recipe = Recipe()
            recipe.precomputeEpochs = 0
            recipe.unfrozenCycles = 1
            recipe.cycleLength = 2
            (recipe.mixedPrecision, recipe.inferenceMixedPrecision) = (false, false)
            recipe.earlyBodyMixedPrecision = mixed
            recipe.unfrozenFrom = unfrozenFrom
            _ = try learner.run(recipe, classifier: classifier, trainLoader: loader, validLoader: nil, featureKey: nil)
            return (learner.recorder.steps.map(\.loss), classifier, early)
        }
        let (float32, mixed) = (try run(false), try run(true))
        #expect(float32.losses.count == 4 && mixed.losses.count == 4)
        #expect(float32.losses != mixed.losses && mixed.losses.allSatisfy(\.isFinite))
        #expect(try mixed.classifier.layerGroups[0].flatMap(\.parameters).map { try $0.floats() } == mixed.early)
        #expect(!mixed.classifier.earlyBodyMixedPrecision)
        // A recipe that trains the early body runs it in float32 whatever it asks: the losses of float32.
        let (trained, trainedAsked) = (try run(false, unfrozenFrom: 0), try run(true, unfrozenFrom: 0))
        #expect(zip(trained.losses, trainedAsked.losses).allSatisfy { abs($0 - $1) < 1e-6 })
    }
}
