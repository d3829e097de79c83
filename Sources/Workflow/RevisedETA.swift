import Foundation
import Learn
import Vision

/// Watches the pace of the unfrozen epochs against the plan: when the run now looks like ending more than 10 % of
/// the planned time away from the planned end, it says when it will end, once, and again only if that moves by
/// another 10 %. The plan comes from a probe of synthetic batches; a real epoch also loads, augments and
/// validates, and a busy machine runs slower than it measured.
final class RevisedETA: Callback {
    let start: Date, plannedEnd: Date
    /// Seconds of work after the last epoch (TTA, the report).
    let tail: Double
    private var fitStart = Date()
    private var announced: Date?
    /// After the epoch table (100) has printed the epoch.
    var order: Int { 105 }

    init(start: Date, plannedEnd: Date, tail: Double) {
        (self.start, self.plannedEnd, self.tail) = (start, plannedEnd, tail)
    }

    func beforeFit(_ learner: Learner) throws { fitStart = Date() }

    func afterEpoch(_ learner: Learner) throws {
        let done = learner.epochInFit + 1
        guard learner.recorder.phase == "unfrozen", done < learner.epochCount else { return }
        let now = Date()
        let end = Self.projectedEnd(
            now: now, epochsDone: done, epochsLeft: learner.epochCount - done,
            fitSeconds: now.timeIntervalSince(fitStart), tail: tail)
        let planned = plannedEnd.timeIntervalSince(start)
        let reference = announced ?? plannedEnd
        guard abs(end.timeIntervalSince(reference)) > 0.1 * planned else { return }
        announced = end
        let plannedLeft = plannedEnd.timeIntervalSince(now)
        Feedback.log(
            "ETA revised from the epochs so far: about \(Feedback.clock(end.timeIntervalSince(now))) more, done around "
                + "\(TrainingRun.clockTime(end)) ("
                + (plannedLeft > 0 ? "the plan left \(Feedback.clock(plannedLeft))" : "the plan would be done by now")
                + ")")
    }

    /// When the run ends if each remaining epoch takes as long as the mean of those done.
    static func projectedEnd(now: Date, epochsDone: Int, epochsLeft: Int, fitSeconds: Double, tail: Double) -> Date {
        now.addingTimeInterval(fitSeconds / Double(max(1, epochsDone)) * Double(epochsLeft) + tail)
    }
}
