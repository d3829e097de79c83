import Foundation
import Vision

extension TrainingRun {
    /// The training and validation photos (indices into `dataset`) and what the report says of the split: groups
    /// (`--group-by`) never straddle it, clusters of near-duplicates stay on one side (unless `--split-duplicates`),
    /// and the held-out photos that have a copy in training are counted.
    func split(
        _ dataset: ImageDataset, heldOut: ImageDataset?, cache: PresizeCache
    ) throws -> (train: [Int], valid: [Int], notes: [String]) {
        let labels = dataset.items.compactMap(\.label)
        if let validation {  // cross-validation chose the fold, with the groups in mind
            let held = Set(validation)
            return (dataset.items.indices.filter { !held.contains($0) }, validation.sorted(), [])
        }
        let survey =
            SplitGrouping(options).needsSurvey || heldOut != nil
            ? try PhotoSurvey.run(dataset.items, cache: cache, presized: true) : nil
        var notes: [String] = []
        let clusters = options.splitDuplicates ? [] : survey?.clusters ?? []
        var split: (train: [Int], valid: [Int])
        if let column = options.groupBy {
            let groups = try SplitGrouping(options).groups(dataset, survey: survey)
            split = Split.grouped(labels: labels, groups: groups, fraction: options.validFraction, seed: options.seed)
            let count = { (side: [Int]) in Set(side.map { groups[$0] }).count }
            notes.append(
                "split by \(column == "burst" ? "burst (EXIF capture times \(Int(options.burstGap)) s apart)" : "'\(column)'")"
                    + ": \(count(split.train)) groups (\(split.train.count) photos) in training, "
                    + "\(count(split.valid)) groups (\(split.valid.count) photos) in validation; none on both sides")
            let straddling = SplitGrouping(options).straddling(split.train, split.valid, survey: survey)
            if straddling > 0 {
                notes.append(
                    "near-duplicates: \(straddling) cluster(s) of look-alike photos lie in groups on both sides "
                        + "(`quadrat check --near-duplicates FILE` lists them)")
            }
        } else if !clusters.isEmpty {
            // Each cluster a group, every other photo a group of its own: stratified as well as the clusters allow
            // (moving whole clusters after a random split could empty a class from validation).
            let groups = try SplitGrouping(options).groups(dataset, survey: survey)
            split = Split.grouped(labels: labels, groups: groups, fraction: options.validFraction, seed: options.seed)
            let random = Split.random(
                count: dataset.items.count, fraction: options.validFraction, seed: options.seed, labels: labels)
            let straddling = SplitGrouping(options).straddling(random.train, random.valid, survey: survey)
            notes.append(
                "near-duplicates: \(clusters.count) cluster(s) of \(clusters.reduce(0) { $0 + $1.members.count }) "
                    + "photos, each kept on one side of the split (a random split would have put \(straddling) of "
                    + "them on both sides; --split-duplicates allows it)")
        } else {
            split = Split.random(
                count: dataset.items.count, fraction: options.validFraction, seed: options.seed, labels: labels)
        }
        if options.splitDuplicates, let survey {
            notes.append(copiesNote(train: split.train, others: split.valid, survey: survey, name: "validation"))
        }
        if let heldOut, let survey {
            let test = try PhotoSurvey.run(heldOut.items, cache: cache, presized: true)
            let copies = try survey.copies(in: test).filter { Set(split.train).contains($0.here) }
            notes.append(
                "held-out test: \(Set(copies.map(\.other)).count) of \(heldOut.items.count) photos have a "
                    + "near-duplicate in training")
        }
        return (split.train, split.valid, notes)
    }

    /// "validation: 12 of 400 photos have a near-duplicate in training".
    func copiesNote(train: [Int], others: [Int], survey: PhotoSurvey, name: String) -> String {
        let (trainSet, otherSet) = (Set(train), Set(others))
        var withCopy = Set<Int>()
        for cluster in survey.clusters where cluster.members.contains(where: trainSet.contains) {
            withCopy.formUnion(cluster.members.filter(otherSet.contains))
        }
        return "\(name): \(withCopy.count) of \(others.count) photos have a near-duplicate in training"
    }
}
