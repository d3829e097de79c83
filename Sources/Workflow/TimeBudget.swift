import Foundation
import Learn
import Torch

/// Ends a fit when the next epoch would not finish before `deadline` (epochs are timed as they run), so a
/// `--budget` run ends on time even when the plan's estimate was too optimistic. In data-parallel training
/// rank 0's clock decides for every rank (`group`), so all stop after the same epoch.
final class TimeBudget: Callback {
    let deadline: Date
    var group: ProcessGroup?
    private var epochStart = Date()
    private var longestEpoch = 0.0
    /// After the epoch table (100) has printed the epoch and ``KeepBest`` (50) has seen it.
    var order: Int { 110 }

    init(deadline: Date) { self.deadline = deadline }

    func beforeEpoch(_ learner: Learner) throws { epochStart = Date() }

    func afterEpoch(_ learner: Learner) throws {
        longestEpoch = max(longestEpoch, Date().timeIntervalSince(epochStart))
        let isLast = learner.epochInFit + 1 >= learner.epochCount
        var stop = !isLast && Date().addingTimeInterval(longestEpoch) > deadline
        if let group { stop = try group.share(group.rank == 0 ? stop : nil) }
        if stop {
            throw CancelFit("the time budget leaves no room for another epoch")
        }
    }
}
