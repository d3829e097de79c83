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
