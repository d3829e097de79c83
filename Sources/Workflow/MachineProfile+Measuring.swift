import Foundation
import Learn
import Vision

extension MachineProfile {
    /// Measures `learner`'s model at `size` and, when `store` is true and the cores were quiet, keeps the figures
    /// for later runs. Returns the profile and, when it was not stored, a note saying why.
    static func probe(
        _ learner: Learner, architecture: Architecture, size: Int, batchSize: Int, recipe: Recipe, store: Bool
    ) throws -> (profile: MachineProfile, note: String?) {
        let busy = busyCores()
        let profile = try measure(learner, size: size, batchSize: batchSize, recipe: recipe)
        guard store else { return (profile, nil) }
        // Measured while other work ran: figures several times too low, which every later plan would inherit.
        if let busy, busy >= busyThreshold {
            let note = String(
                format: "other work kept %.1f of %d cores busy: these measurements are not stored; the next run on "
                    + "a quieter machine measures again", busy, ProcessInfo.processInfo.activeProcessorCount)
            return (profile, note)
        }
        do {
            try profile.store(architecture: architecture, size: size, batchSize: batchSize)
        } catch {
            return (profile, "could not store the measurements in \(file.path): \(error)")
        }
        return (profile, nil)
    }

    /// `quadrat doctor --measure`: forgets every profile stored for this machine (each model and size measures
    /// again on its next run) and measures `architecture` at `size` now. Returns the profile, how many were
    /// forgotten and, when the new one was not stored, why.
    public static func measureAgain(
        architecture: Architecture, size: Int, batchSize: Int
    ) throws -> (profile: MachineProfile, forgotten: Int, note: String?) {
        let forgotten = try forget()
        // Speed does not depend on the weights' values: random ones spare reading the pretrained file.
        let classifier = try Classifier(architecture, classes: ["a", "b"], pretrained: false)
        // The probe feeds synthetic batches: the loaders are never read.
        let empty = DataLoader(
            ImageDataset(items: [], classes: ["a", "b"]), size: size, normalization: architecture.normalization)
        let learner = try Learner(classifier, train: empty, valid: nil)
        let (profile, note) = try probe(
            learner, architecture: architecture, size: size, batchSize: batchSize, recipe: Recipe(), store: true)
        return (profile, forgotten, note)
    }

    /// A stored profile that a run's real epochs contradict (more than twice as slow or fast as it predicts:
    /// measured under load, or the machine changed) is forgotten, so that the next run measures again. Returns the
    /// note to print, or nil when the figures held.
    static func review(
        observedEpochSeconds: Double, expectedEpochSeconds: Double, architecture: Architecture, size: Int,
        batchSize: Int
    ) -> String? {
        let ratio = observedEpochSeconds / max(1e-9, expectedEpochSeconds)
        guard ratio > 2 || ratio < 0.5 else { return nil }
        let forgotten = (try? forget(architecture: architecture, size: size, batchSize: batchSize)) ?? 0
        return String(
            format: "note: the unfrozen epochs took %.0f s each where this machine's stored measurements predict "
                + "%.0f s: %@", observedEpochSeconds, expectedEpochSeconds,
            forgotten > 0
                ? "they look wrong (taken under load, or the machine changed) and are forgotten; the next run "
                    + "measures again" : "run `quadrat doctor --measure` on a quiet machine")
    }
}
