/// Splits for photos with several labels each.
extension Split {
    /// K folds in which every label keeps its share of photos as well as the sets allow: iterative stratification
    /// (Sechidis, Tsoumakas and Vlahavas 2011, as scikit-multilearn implements it). The rarest label still to place
    /// goes first; each of its photos joins the fold that most lacks that label (ties: the fold that most lacks
    /// photos, then a seeded random one), and every fold's need of each of the photo's labels drops. Photos without a
    /// label fill the folds that most lack photos. `sets[i]` holds photo i's labels (0 ..< `labels`); returns each
    /// photo's fold.
    /// `folds` below 2 counts as 2; labels outside 0 ..< `labels` are ignored.
    public static func iterativeFolds(sets given: [Set<Int>], labels: Int, folds: Int, seed: UInt64) -> [Int] {
        let (k, sets) = (max(2, folds), given.map { $0.filter { (0..<labels).contains($0) } })
        var rng = SeededRandom(seed: seed)
        let share = 1 / Double(k)
        var wantedPhotos = [Double](repeating: Double(sets.count) * share, count: k)
        var wanted = (0..<labels).map { label in
            [Double](repeating: Double(sets.filter { $0.contains(label) }.count) * share, count: k)
        }
        var fold = [Int](repeating: -1, count: sets.count)
        // Photos in a seeded order, so that ties between photos are broken by the seed as well.
        var remaining = rng.permutation(sets.count).filter { !sets[$0].isEmpty }
        func place(_ photo: Int, needing need: [Double]) {
            let best = need.max() ?? 0
            let candidates = (0..<k).filter { need[$0] == best }
            let most = candidates.map { wantedPhotos[$0] }.max() ?? 0
            let finalists = candidates.filter { wantedPhotos[$0] == most }
            let chosen = finalists[Int(rng.next() % UInt64(finalists.count))]
            fold[photo] = chosen
            wantedPhotos[chosen] -= 1
            for label in sets[photo] { wanted[label][chosen] -= 1 }
        }
        while !remaining.isEmpty {
            // The label with the fewest photos still to place (ties: the lowest label number).
            var left = [Int](repeating: 0, count: labels)
            for photo in remaining { for label in sets[photo] { left[label] += 1 } }
            guard let rarest = (0..<labels).filter({ left[$0] > 0 }).min(by: { left[$0] < left[$1] }) else { break }
            for photo in remaining where sets[photo].contains(rarest) { place(photo, needing: wanted[rarest]) }
            remaining.removeAll { fold[$0] >= 0 }
        }
        for photo in rng.permutation(sets.count) where fold[photo] < 0 { place(photo, needing: wantedPhotos) }
        return fold
    }

    /// A validation part of about `fraction` by iterative stratification: one of round(1 / fraction) folds of
    /// ``iterativeFolds(sets:labels:folds:seed:)``, chosen by the seed (a fraction outside 1 % to 50 % is taken as the
    /// nearest of them). Both lists are sorted.
    public static func iterative(
        sets: [Set<Int>], labels: Int, fraction: Double = 0.2, seed: UInt64 = 42
    ) -> (train: [Int], valid: [Int]) {
        let bounded = fraction.isNaN ? 0.2 : min(0.5, max(0.01, fraction))
        let k = Int((1 / bounded).rounded())
        let fold = iterativeFolds(sets: sets, labels: labels, folds: k, seed: seed)
        var rng = SeededRandom(seed: seed ^ 0x5EED_F01D)
        let held = Int(rng.next() % UInt64(k))
        return (sets.indices.filter { fold[$0] != held }, sets.indices.filter { fold[$0] == held })
    }
}
