import Foundation
import TestSupport
import Testing
import Torch

@testable import Workflow

@Suite("quadrat doctor", .serialized)
struct DoctorTests {
    /// A home without weights fails the weights check, names the missing file and the command that fixes it;
    /// the other checks still run and say what they found.
    @Test func aHomeWithoutWeightsFailsWithTheFix() throws {
        let home = try Fixtures.temporaryFolder()
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let checks = Doctor.checks()
        #expect(checks.map(\.name) == ["libtorch", "GPU", "BLAS", "threads", "CPU", "precision", "weights", "home"])
        let weights = try #require(checks.first { $0.name == "weights" })
        #expect(weights.status == .fail && weights.detail.contains("efficientnet-lite0-57934424.pth missing"))
        #expect(weights.fix == "scripts/setup.sh weights" && weights.line.contains("fix: scripts/setup.sh weights"))
        let homeCheck = try #require(checks.first { $0.name == "home" })
        #expect(homeCheck.status == .ok && homeCheck.detail.hasPrefix(home.path))
        #expect(checks.first { $0.name == "precision" }?.detail.contains("not measured") == true)
        // The CPU line sorts each instruction set into "has" or "lacks" as /proc/cpuinfo says (a bare "AVX" would
        // also match the "none of AVX2…AMX" line).
        let cpu = try #require(checks.first { $0.name == "CPU" }?.detail)
        let flags = CPUFlags.current
        let has = cpu.components(separatedBy: "; lacks ").first ?? ""
        let lacks = cpu.components(separatedBy: "; lacks ").dropFirst().first ?? ""
        for (flag, name) in [("avx2", "AVX2,"), ("avx512f", "AVX-512,"), ("amx_tile", "AMX,")] {
            #expect((has + ",").contains(" " + name) == flags.contains(flag), "\(cpu): \(flag)")
            #expect((lacks + ",").contains(name) != flags.contains(flag), "\(cpu): \(flag)")
        }
    }

    /// SHA-256 against FIPS 180-4's examples, across block boundaries, and of a file against Python's hashlib.
    @Test func sha256MatchesTheStandardVectors() throws {
        func hex(_ bytes: [UInt8]) -> String {
            var hash = SHA256()
            hash.update(bytes)
            return hash.finalize().map { String(format: "%02x", $0) }.joined()
        }
        #expect(hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // A million 'a' in one file, read in blocks: python3 -c "import hashlib; print(hashlib.sha256(b'a'*10**6).hexdigest())"
        let file = try Fixtures.temporaryFolder().appendingPathComponent("a.bin")
        try Data(repeating: 0x61, count: 1_000_000).write(to: file)
        #expect(try SHA256.hex(of: file) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A damaged checkpoint (its sha256 no longer starts with the digits in its name) is caught.
    @Test func aDamagedCheckpointIsCaught() throws {
        let home = try Fixtures.temporaryFolder()
        let weights = home.appendingPathComponent("weights")
        try FileManager.default.createDirectory(at: weights, withIntermediateDirectories: true)
        try Data("not the real file".utf8).write(to: weights.appendingPathComponent("efficientnet-lite0-57934424.pth"))
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        let check = Doctor.weights()
        #expect(
            check.status == .fail && check.detail.contains("efficientnet-lite0-57934424.pth is damaged"),
            "\(check.detail)")
    }
}
