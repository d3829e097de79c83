import Foundation
import TestSupport
import Testing

@testable import Workflow

/// One run per run folder: a second run into a folder in use stops before any work, naming the holder; the lock
/// goes with its holder.
@Suite struct RunFolderLockTests {
    @Test func aSecondRunIntoTheSameFolderIsRefused() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1)
        let out = data.appendingPathComponent("run")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        var held: RunFolderLock? = try RunFolderLock(out)
        let options = TrainOptions(data: data.path, out: out.path)
        do {
            _ = try TrainingRun(options: options).run()
            Issue.record("a second run went ahead")
        } catch {
            #expect(
                "\(error)".contains("another run is writing into \(out.path) (process \(getpid()))"), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("config.json").path))
        _ = held  // held until here
        held = nil
        let again = try RunFolderLock(out)  // released: free again
        _ = again
    }
}
