import Foundation
import TestSupport
import Testing
import Torch

@Suite("Atomic files")
struct AtomicFileTests {
    @Test func writesWholeFilesAndLeavesNoPartialOne() throws {
        let folder = try Fixtures.temporaryFolder()
        let url = folder.appendingPathComponent("report.html")
        try AtomicFile.write("old", to: url)
        try AtomicFile.write("new", to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "new")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["report.html"])
    }

    @Test func aFailedWriteNamesTheFileAndTheReason() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("missing/model.safetensors")
        do {
            try AtomicFile.write(Data([1, 2, 3]), to: url)
            Issue.record("writing into a missing folder succeeded")
        } catch let error as FileWriteError {
            #expect(error.description == "cannot write \(url.path): No such file or directory")
        }
    }

    @Test func leftoversOfDeadWritersAreRemovedAndLiveOnesKept() throws {
        let folder = try Fixtures.temporaryFolder()
        // A process that has exited: its pid is free (and not reused within this test).
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = ".model.safetensors.quadrat-partial-\(finished.processIdentifier)-7"
        let live = ".history.csv.quadrat-partial-\(getpid())-8"
        for name in [dead, live, "model.safetensors"] {
            try Data([0]).write(to: folder.appendingPathComponent(name))
        }
        #expect(AtomicFile.removeLeftovers(in: folder) == 1)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder.path)) == [live, "model.safetensors"])
    }
}
