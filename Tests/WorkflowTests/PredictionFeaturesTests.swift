import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision
import Workflow

/// `predict` keeps the pooled features of its own forward pass for the deployment check instead of reading and
/// running every photo a second time: they must be the features the check's own pass computes.
@Suite(
    "Features kept by the prediction pass", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct PredictionFeaturesTests {
    @Test func keptFeaturesAreTheDeploymentChecksOwn() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 7, size: 48)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        (options.size, options.batchSize, options.epochs, options.lr) = (32, 8, 1, .value(2e-3))
        (options.precision, options.lrFind, options.recipe.ttaViews) = (.fp32, false, 3)
        options.augmentation = .dihedral
        let saved = try SavedModel(try TrainingRun(options: options, resumeHint: "test").run().modelURL)
        // An unreadable photo among the others: its row must be left out of the features as of the predictions.
        try Data("not a png".utf8).write(to: data.appendingPathComponent("test/broken.png"))
        let test = try DataSource.unlabelled(data.appendingPathComponent("test"))
        let broken = try #require(test.items.firstIndex { $0.url.lastPathComponent == "broken.png" })
        let readable = test.items.indices.filter { $0 != broken }
        let own = try DriftReference.features(saved, items: test.items)
        #expect(own.kept == readable)
        // Batches of 3 (the last one short), plain and with TTA over the symmetries.
        for views in [0, 3] {
            let predicted = try saved.predict(
                test, ttaViews: views, augmentation: .dihedralOnly, batchSize: 3, keepingFeatures: true)
            let kept = try #require(predicted.features, "TTA ×\(views + 1): no features kept")
            #expect(predicted.items == readable)
            let (a, b) = (try DriftReference.unit(kept).floats(), try own.unit.floats())
            #expect(a.count == b.count && !a.isEmpty)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-5, "TTA ×\(views + 1): unit features differ by \(worst)")
            // The check's distances from the kept features are those of its own pass.
            let items = predicted.items.map { test.items[$0] }
            let fromKept = try #require(
                try DeploymentCheck.run(saved, items: items, probabilities: predicted.probabilities, features: kept))
            let fromOwn = try #require(
                try DeploymentCheck.run(saved, items: items, probabilities: predicted.probabilities))
            #expect(zip(fromKept.distances, fromOwn.distances).allSatisfy { abs($0 - $1) < 1e-5 })
            #expect(fromKept.distances.count == items.count && fromKept.unknown == fromOwn.unknown)
            let plain = try saved.predict(test, ttaViews: views, augmentation: .dihedralOnly, batchSize: 3)
            #expect(plain.features == nil)
            for (a, b) in zip(plain.probabilities.joined(), predicted.probabilities.joined()) {
                #expect(abs(a - b) < 1e-6)
            }
        }
        // In bfloat16 the features would not be the check's float32 ones: none kept, the check runs its own pass.
        let bf16 = try saved.predict(test, mixedPrecision: true, keepingFeatures: true)
        #expect(bf16.features == nil)

        // Training fits the reference with validation's features from its TTA pass: the distances of a pass of its
        // own; features of another count are not used.
        let valid = readable.map { test.items[$0] }
        let probabilities = try saved.predict(test).probabilities
        let pooled = try DriftReference.pooledFeatures(saved, items: valid).features
        let train = try DataSource.labelled(data).items
        func distances(_ features: Tensor?) throws -> [Double] {
            try DriftReference.fit(
                saved, train: train, valid: valid, validFeatures: features, validProbabilities: probabilities, seed: 1
            ).validationDistances
        }
        let ownDistances = try distances(nil)
        #expect(zip(ownDistances, try distances(pooled)).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(try distances(pooled.narrowed(dim: 0, 0..<2)) == ownDistances)
        let negated = try -pooled
        #expect(zip(ownDistances, try distances(negated)).contains { abs($0 - $1) > 0.1 })
    }
}
