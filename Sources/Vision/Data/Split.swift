/// Splits item indices into training and validation parts.
public enum Split {
    /// A seeded random `fraction` for validation (fastai's `get_cv_idxs`), optionally stratified
    /// so every class keeps its share. Both lists are sorted.
    public static func random(
        count: Int, fraction: Double = 0.2, seed: UInt64 = 42, labels: [Int]? = nil
    ) -> (train: [Int], valid: [Int]) {
        var rng = SeededRandom(seed: seed)
        var valid: [Int] = []
        if let labels {
            let groups = Dictionary(grouping: 0..<count) { labels[$0] }
            for key in groups.keys.sorted() {
                let members = groups[key] ?? []
                let take = Int((Double(members.count) * fraction).rounded())
                valid += rng.permutation(members.count).prefix(take).map { members[$0] }
            }
        } else {
            valid = Array(rng.permutation(count).prefix(Int((Double(count) * fraction).rounded())))
        }
        let validSet = Set(valid)
        return ((0..<count).filter { !validSet.contains($0) }, valid.sorted())
    }
}

extension Split {
    /// K folds in which no group has members in two folds, and each class keeps its share of every fold as well as
    /// the groups allow (scikit-learn's `StratifiedGroupKFold`): groups in a seeded random order, those with the
    /// most uneven class counts first, each into the fold where the classes' shares across folds spread least
    /// (ties: the smallest fold). `groups[i]` is photo i's group number; returns each photo's fold.
    public static func groupedFolds(labels: [Int], groups: [Int], folds k: Int, seed: UInt64) -> [Int] {
        precondition(labels.count == groups.count && k >= 1)
        let classCount = (labels.max() ?? 0) + 1
        let members = Dictionary(grouping: labels.indices) { groups[$0] }
        var rng = SeededRandom(seed: seed)
        let keys = members.keys.sorted()
        let shuffled = rng.permutation(keys.count).map { keys[$0] }
        func counts(_ group: Int) -> [Double] {
            var c = [Double](repeating: 0, count: classCount)
            for i in members[group] ?? [] { c[labels[i]] += 1 }
            return c
        }
        let groupCounts = Dictionary(uniqueKeysWithValues: shuffled.map { ($0, counts($0)) })
        let order = shuffled.enumerated().sorted { a, b in
            let (sa, sb) = (deviation(groupCounts[a.element] ?? []), deviation(groupCounts[b.element] ?? []))
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        var classTotals = [Double](repeating: 0, count: classCount)
        for l in labels { classTotals[l] += 1 }
        var foldCounts = [[Double]](repeating: [Double](repeating: 0, count: classCount), count: k)
        var foldSizes = [Double](repeating: 0, count: k)
        var foldOfGroup: [Int: Int] = [:]
        for group in order {
            let add = groupCounts[group] ?? []
            var best = (fold: 0, spread: Double.infinity, size: Double.infinity)
            for f in 0..<k {
                foldCounts[f] = zip(foldCounts[f], add).map(+)
                let spread =
                    (0..<classCount).map { c in
                        deviation(foldCounts.map { $0[c] / max(classTotals[c], 1) })
                    }.reduce(0, +) / Double(classCount)
                foldCounts[f] = zip(foldCounts[f], add).map(-)
                if spread < best.spread - 1e-12 || (abs(spread - best.spread) <= 1e-12 && foldSizes[f] < best.size) {
                    best = (f, spread, foldSizes[f])
                }
            }
            foldCounts[best.fold] = zip(foldCounts[best.fold], add).map(+)
            foldSizes[best.fold] += add.reduce(0, +)
            foldOfGroup[group] = best.fold
        }
        return groups.map { foldOfGroup[$0] ?? 0 }
    }

    /// A validation part of about `fraction` that shares no group with training: one of round(1 / fraction)
    /// grouped folds (see ``groupedFolds(labels:groups:folds:seed:)``), chosen by the seed (the first fold always
    /// holds the most uneven group). Both lists are sorted.
    public static func grouped(
        labels: [Int], groups: [Int], fraction: Double = 0.2, seed: UInt64 = 42
    ) -> (train: [Int], valid: [Int]) {
        let k = max(2, Int((1 / max(fraction, 1e-9)).rounded()))
        let fold = groupedFolds(labels: labels, groups: groups, folds: k, seed: seed)
        var rng = SeededRandom(seed: seed ^ 0x5EED_F01D)
        let held = Int(rng.next() % UInt64(k))
        return (labels.indices.filter { fold[$0] != held }, labels.indices.filter { fold[$0] == held })
    }

    /// The population standard deviation.
    static func deviation(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let mean = values.reduce(0, +) / Double(values.count)
        return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)).squareRoot()
    }
}
