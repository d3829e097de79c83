import Foundation
import Torch
import Vision

/// The split a run trains on, and what its report says of it; Codable so rank 0 can share it with the other ranks.
struct RunSplit: Codable {
    var train: [Int], valid: [Int]
    var notes: [String]
}

extension TrainingRun {
    /// The training and validation photos (indices into `dataset`) and what the report says of the split: groups
    /// (`--group-by`) never straddle it, clusters of near-duplicates stay on one side without a group column (unless
    /// `--split-duplicates`), and the held-out photos that have a near-duplicate in training are counted. Rank 0
    /// decides and shares it: the search compares float similarities with a threshold, which two machines (or two
    /// thread counts) could round to different sides.
    func split(_ dataset: ImageDataset, heldOut: ImageDataset?, cache: PresizeCache) throws -> RunSplit {
        if let validation {  // cross-validation chose the fold, with the groups in mind
            let held = Set(validation)
            return RunSplit(
                train: dataset.items.indices.filter { !held.contains($0) }, valid: validation.sorted(), notes: [])
        }
        guard let group else { return try decideSplit(dataset, heldOut: heldOut, cache: cache) }
        return try group.share(group.rank == 0 ? try decideSplit(dataset, heldOut: heldOut, cache: cache) : nil)
    }

    func decideSplit(_ dataset: ImageDataset, heldOut: ImageDataset?, cache: PresizeCache) throws -> RunSplit {
        let task = options.task.workflow
        let labels = try task.stratificationLabels(dataset)
        let grouping = SplitGrouping(options)
        let survey =
            grouping.needsSurvey || heldOut != nil || options.splitDuplicates
            ? try PhotoSurvey.run(dataset.items, cache: cache, presized: true) : nil
        if let survey, survey.unreadable > 0 {
            Feedback.warn("note: \(survey.unreadable) photo(s) could not be fingerprinted; they are in no cluster")
        }
        let clusters = options.splitDuplicates ? [] : survey?.clusters ?? []
        var split: (train: [Int], valid: [Int])
        var notes: [String] = []
        if let column = options.groupBy {
            let groups = try grouping.groups(dataset, survey: survey)
            try checkGroupCount(groups, column: column)
            split = Split.grouped(labels: labels, groups: groups, fraction: options.validFraction, seed: options.seed)
            notes.append(groupedSplitNote(column, groups: groups, split: split))
            let straddling = grouping.straddling(split.valid, survey: survey)
            if straddling > 0 {
                notes.append(
                    "near-duplicates: \(straddling) cluster(s) of look-alike photos lie in groups on both sides "
                        + "(`quadrat check --near-duplicates FILE` lists them)")
            }
        } else if !clusters.isEmpty {
            // Each cluster a group, every other photo a group of its own: stratified as well as the clusters allow
            // (moving whole clusters after a random split could empty a class from validation).
            let groups = try grouping.groups(dataset, survey: survey)
            split = Split.grouped(labels: labels, groups: groups, fraction: options.validFraction, seed: options.seed)
            let random = try task.split(dataset, fraction: options.validFraction, seed: options.seed)
            notes.append(
                "near-duplicates: \(clusters.count) cluster(s) of \(clusters.reduce(0) { $0 + $1.members.count }) "
                    + "photos, each kept on one side of the split (a split without them would have put "
                    + "\(grouping.straddling(random.valid, survey: survey)) of them on both sides; "
                    + "--split-duplicates allows it)")
        } else {
            split = try task.split(dataset, fraction: options.validFraction, seed: options.seed)
        }
        try checkSides(split, dataset: dataset)
        if options.splitDuplicates, let survey {
            notes.append(copiesNote(train: split.train, others: split.valid, survey: survey, name: "validation"))
        }
        if let heldOut, let survey {
            let test = try PhotoSurvey.run(heldOut.items, cache: cache, presized: true)
            let training = Set(split.train)
            let copies = Set(try survey.copies(in: test, amongst: training).map(\.other))
            notes.append(
                "held-out test: \(copies.count) of \(heldOut.items.count) photos have a near-duplicate (a copy or a look-alike) in training"
            )
        }
        return RunSplit(train: split.train, valid: split.valid, notes: notes)
    }

    /// "split by 'site': 32 groups (1,280 photos) in training, 8 groups (320 photos) in validation; …".
    func groupedSplitNote(_ column: String, groups: [Int], split: (train: [Int], valid: [Int])) -> String {
        let count = { (side: [Int]) in Set(side.map { groups[$0] }).count }
        let by =
            column == "burst"
            ? "burst (EXIF capture times within \(Int(options.burstGap.seconds)) s of each other)" : "'\(column)'"
        return "split by \(by): \(count(split.train)) groups (\(split.train.count) photos) in training, "
            + "\(count(split.valid)) groups (\(split.valid.count) photos) in validation; none on both sides"
    }

    /// A grouped split needs two groups at least.
    func checkGroupCount(_ groups: [Int], column: String) throws {
        let distinct = Set(groups).count
        guard distinct >= 2 else {
            throw WorkflowError(
                "--group-by \(column): all \(groups.count) photos are in one group; a split needs 2 groups at least")
        }
    }

    /// Refuses a split with an empty side, and says when a class (a label) has no photo in validation.
    func checkSides(_ split: (train: [Int], valid: [Int]), dataset: ImageDataset) throws {
        guard !split.train.isEmpty, !split.valid.isEmpty else {
            throw WorkflowError(
                "the split left \(split.train.isEmpty ? "training" : "validation") empty (\(split.train.count) "
                    + "training, \(split.valid.count) validation photos): use more groups or another --valid-fraction")
        }
        let validClasses = Set(
            split.valid.flatMap { dataset.items[$0].labelSet ?? dataset.items[$0].label.map { [$0] } ?? [] })
        let kind = options.task.task.decidesEachClass ? "with label" : "of class"
        for (c, name) in dataset.classes.enumerated() where !validClasses.contains(c) {
            Feedback.warn("note: validation has no photo \(kind) '\(name)': its recall cannot be measured")
        }
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
