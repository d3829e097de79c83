import Foundation
import Vision
import Workflow

/// Runs scripts/bench_pytorch.py (Debian's python3-torch over the same libtorch) after the Swift
/// side and prints both in one table. A benchmark aid only: Quadrat itself never runs Python.
enum PyTorchComparison {
    /// `scripts/bench_pytorch.py` of the source checkout: `$QUADRAT_SOURCE/scripts`, or the checkout the binary was
    /// built in (`.build/release/quadrat` → `scripts/`); an installed binary without either gets an error saying so.
    static func scriptURL() throws -> URL {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var roots = [binary.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()]
        // .build/x86_64-unknown-linux-gnu/release/quadrat is one level deeper than .build/release/quadrat.
        roots.append(roots[0].deletingLastPathComponent())
        if let source = ProcessInfo.processInfo.environment["QUADRAT_SOURCE"] {
            roots.insert(URL(fileURLWithPath: source), at: 0)
        }
        let candidates = roots.map { $0.appendingPathComponent("scripts/bench_pytorch.py") }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw WorkflowError(
                "--pytorch needs scripts/bench_pytorch.py from Quadrat's source: set QUADRAT_SOURCE to the checkout "
                    + "(looked in \(candidates.map(\.path).joined(separator: ", ")))")
        }
        return found
    }

    static func run(swiftRows: [ModelsBenchmark.Row], size: Int, batchSize: Int) throws {
        let script = try scriptURL()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, String(size), String(batchSize)]
        let pipe = Pipe()
        process.standardOutput = pipe
        emit("running \(script.path) …")
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw WorkflowError(
                "\(script.path) failed (status \(process.terminationStatus)): is python3-torch installed?")
        }
        // Lines: arch<TAB>mode<TAB>img/s
        var python: [String: Double] = [:]
        for line in output.split(separator: "\n") {
            let f = line.split(separator: "\t")
            if f.count == 3, let v = Double(f[2]) { python["\(f[0])|\(f[1])"] = v }
        }
        emit("\n| model | mode | Quadrat img/s | PyTorch (same mode) img/s | ratio |")
        emit("|---|---|---:|---:|---:|")
        for row in swiftRows {
            let key = "\(row.architecture.rawValue)|\(row.mode)"
            let p = python[key]
            let pText = p.map { String(format: "%.1f", $0) } ?? "–"
            let ratio = p.map { String(format: "%.2f", row.imagesPerSecond / $0) } ?? "–"
            emit(
                "| \(row.architecture.rawValue) | \(row.mode) | \(String(format: "%.1f", row.imagesPerSecond)) | \(pText) | \(ratio) |"
            )
        }
        for (key, v) in python.sorted(by: { $0.key < $1.key })
        where !swiftRows.contains(where: { "\($0.architecture.rawValue)|\($0.mode)" == key }) {
            emit("| \(key.replacingOccurrences(of: "|", with: " | ")) | – | \(String(format: "%.1f", v)) | – |")
        }
    }
}
