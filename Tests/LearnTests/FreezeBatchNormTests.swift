import NN
import TestSupport
import Testing
import Torch
import Vision

@testable import Learn

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
}
