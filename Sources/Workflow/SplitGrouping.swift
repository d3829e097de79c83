import Foundation
import Learn
import Vision

/// What keeps photos together in a split or in folds: a column of the labels CSV (`--group-by site`), the bursts of
/// EXIF capture times (`--group-by burst`), and clusters of near-duplicates (unless `--split-duplicates`).
public struct SplitGrouping: Sendable {
    /// A CSV column, `burst`, or nil.
    public var column: String?
    public var burstGap: Double
    public var keepCopiesTogether: Bool
    /// The labels CSV's name column (nil: the first).
    public var nameColumn: String?

    public init(column: String?, burstGap: Double = 60, keepCopiesTogether: Bool = true, nameColumn: String? = nil) {
        (self.column, self.burstGap, self.keepCopiesTogether) = (column, burstGap, keepCopiesTogether)
        self.nameColumn = nameColumn
    }

    /// The grouping `train` options ask for.
    public init(_ options: TrainOptions) {
        self.init(
            column: options.groupBy, burstGap: options.burstGap.seconds, keepCopiesTogether: !options.splitDuplicates,
            nameColumn: options.nameColumn)
    }

    /// Whether the photos must be surveyed (bursts or copies) before they can be grouped.
    public var needsSurvey: Bool { keepCopiesTogether || column == "burst" }

    /// Each photo's group number (the smallest index in its group): the column's value or the burst; without
    /// either, the survey's near-duplicate clusters when copies are kept together. Clusters do not join the groups
    /// a column or bursts make: look-alikes of two sites would chain whole sites together, and the user's groups
    /// are the stronger statement (``straddling(_:survey:)`` counts the clusters they split).
    public func groups(_ dataset: ImageDataset, survey: PhotoSurvey?) throws -> [Int] {
        var sets = DisjointSets(count: dataset.items.count)
        if column == "burst", let survey {
            for event in survey.events(gap: burstGap) {
                for i in event.members.dropFirst() { sets.join(event.members[0], i) }
            }
        } else if let column {
            var first: [String: Int] = [:]
            for (i, value) in try GroupColumn.values(column, of: dataset, nameColumn: nameColumn).enumerated() {
                if let f = first[value] { sets.join(f, i) } else { first[value] = i }
            }
        }
        if column == nil, keepCopiesTogether, let survey {
            for cluster in survey.clusters { for i in cluster.members.dropFirst() { sets.join(cluster.members[0], i) } }
        }
        return dataset.items.indices.map { sets.root($0) }
    }

    /// The near-duplicate clusters with photos on both sides of a split whose validation part is `valid`.
    public func straddling(_ valid: [Int], survey: PhotoSurvey?) -> Int {
        let validSet = Set(valid)
        return survey?.clusters.filter { c in
            c.members.contains(where: validSet.contains) && !c.members.allSatisfy(validSet.contains)
        }.count ?? 0
    }

    /// K folds for cross-validation or an audit: grouped and stratified when anything groups the photos (a column,
    /// bursts or copies), else stratified as `task` stratifies.
    public func folds(
        _ dataset: ImageDataset, task: any TaskWorkflow, cache: PresizeCache, folds k: Int, seed: UInt64
    ) throws -> [Int] {
        let survey = needsSurvey ? try PhotoSurvey.run(dataset.items, cache: cache) : nil
        let groups = try self.groups(dataset, survey: survey)
        guard column != nil || survey?.clusters.isEmpty == false else {
            return try task.folds(dataset, count: k, seed: seed)
        }
        let distinct = Set(groups).count
        guard distinct >= k else {
            throw WorkflowError(
                "\(k) folds need \(k) groups at least; --group-by \(column ?? "(near-duplicates)") gives \(distinct)")
        }
        return Split.groupedFolds(
            labels: try task.stratificationLabels(dataset), groups: groups, folds: k, seed: seed)
    }
}
