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

    /// `--out` through a symbolic link writes its target and keeps the link; into a FIFO the bytes reach its reader
    /// (before, each was replaced by a plain file).
    @Test(.timeLimit(.minutes(1))) func linksAreFollowedAndFIFOsStreamedInto() throws {
        let folder = try Fixtures.temporaryFolder()
        let target = folder.appendingPathComponent("real/submission.csv")
        try FileManager.default.createDirectory(
            at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write("old", to: target)
        let link = folder.appendingPathComponent("latest.csv")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "real/submission.csv")
        try AtomicFile.write("new", to: link)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link.path) == "real/submission.csv")
        #expect(try String(contentsOf: target, encoding: .utf8) == "new")

        let fifo = folder.appendingPathComponent("pipe")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let received = Locked(Data())
        let reader = Thread {
            // To the end of the stream (FileManager.contents stops at the FIFO's size, 0).
            let data = FileHandle(forReadingAtPath: fifo.path)?.readDataToEndOfFile() ?? Data()
            received.withLock { $0 = data }
        }
        reader.start()
        try AtomicFile.write("streamed", to: fifo)
        while !reader.isFinished { usleep(1000) }
        #expect(String(decoding: received.withLock { $0 }, as: UTF8.self) == "streamed")
        var info = stat()
        #expect(stat(fifo.path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO, "the FIFO is still a FIFO")
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
