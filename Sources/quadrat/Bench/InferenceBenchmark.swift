import Foundation
import Learn
import Torch
import Vision
import Workflow

/// `quadrat bench inference --model MODEL --photos DIR`: Quadrat's inference paths and ONNX Runtime on the same
/// model (its ONNX export), the same photos, batch size and threads, in one sitting: images per second, the ratio to
/// ONNX Runtime's fp32, and the largest probability difference from Quadrat's fp32 answer.
struct InferenceBenchmark {
    var model: URL
    var photos: URL
    var count = 64
    var batch = 8
    var rounds = 3
    var seconds = 3.0

    /// One path: its rate in each round and its largest probability difference from Quadrat's fp32 answer.
    struct Row {
        var path: String
        var rates: [Double] = []
        var maxDifference = 0.0
    }

    /// A path timed in process: its answer for the inputs, round after round.
    typealias Path = (name: String, work: (ArraySlice<[Float]>) throws -> [[Double]])

    /// Every path once per round, in turn, so that a machine whose speed drifts (shared machines do, by 10–20 % within
    /// a minute) moves all of them alike; each ratio to ONNX Runtime's fp32 is taken within a round and the table
    /// gives its median.
    func run() throws {
        let saved = try SavedModel(model)
        let files = Array(try DataSource.unlabelled(photos).items.map(\.url).prefix(count))
        let inputs = try files.map { try saved.input(imageBytes: FileBytes.read($0), source: $0) }
        emit(
            "\(model.path): \(saved.architecture.rawValue), \(saved.size) px; \(inputs.count) photos, batch \(batch), "
                + "\(Torch.threads) threads, \(rounds) rounds of at least \(Int(seconds)) s per path")
        let reference = try saved.probabilities(inputs: inputs)
        let (paths, quantized) = try quadratPaths(saved)
        let external = try onnxRuntime(saved, files: files, int8: quantized)
        var rows = (paths.map(\.name) + external.map(\.name)).map { Row(path: $0) }
        for round in 1...rounds {
            for (i, path) in paths.enumerated() {
                let (rate, answer) = try time(path.work)(inputs)
                rows[i].rates.append(rate)
                rows[i].maxDifference = max(rows[i].maxDifference, Self.largestDifference(answer, reference))
            }
            for (i, path) in external.enumerated() {
                // No ONNX Runtime (said already): Quadrat's rows alone.
                guard rows[paths.count + i].rates.count == round - 1, let (rate, difference) = path.run(round == 1)
                else { continue }
                rows[paths.count + i].rates.append(rate)
                rows[paths.count + i].maxDifference = max(rows[paths.count + i].maxDifference, difference)
            }
            let rates = rows.map { $0.rates.count == round ? String(format: "%.1f", $0.rates[round - 1]) : "–" }
            emit("round \(round): " + rates.joined(separator: ", "))
        }
        printTable(rows.filter { $0.rates.count == rounds })
    }

    /// Quadrat's paths: fp32 and bf16 through oneDNN directly (where this build can) and through ATen, and INT8 both
    /// ways when the model has a calibration; and the INT8 model, for ONNX Runtime's INT8 export.
    func quadratPaths(_ saved: SavedModel) throws -> ([Path], SavedModel?) {
        // A model read back runs through oneDNN directly where this build can; the same model through ATen beside it.
        let aten = try SavedModel(model)
        for member in aten.members { member.evaluatesThroughOneDNN = false }
        func through(bfloat16: Bool) -> String {
            saved.classifier.oneDNNBody(side: saved.size, bfloat16: bfloat16) != nil ? "oneDNN" : "ATen"
        }
        var paths: [Path] = [
            (
                "Quadrat fp32 (\(through(bfloat16: false)))",
                { x in try Torch.inferenceMode { try saved.probabilities(inputs: Array(x)) } }
            ),
            ("Quadrat fp32 (ATen)", { x in try Torch.inferenceMode { try aten.probabilities(inputs: Array(x)) } }),
        ]
        // Without AVX-512 oneDNN 2.6 has no bfloat16 kernels, and ATen's autocast emulates them (1.4 img/s on an AMD
        // Zen 3 where fp32 ran 70): rows that would take minutes a round and that no one should deploy.
        if OneDNNNetwork.isAvailable && !OneDNNNetwork.hasBFloat16Kernels {
            emit("no bf16 rows: oneDNN has no bfloat16 kernels on this CPU (they need AVX-512); bf16 would be emulated")
        } else {
            paths += bf16Paths(saved, aten: aten, through: through(bfloat16: true))
        }
        // INT8 when the model has a calibration beside it (`train` writes one; `quadrat quantize` for older models),
        // through oneDNN directly where this build can, and through libtorch's quantized operators beside it.
        do {
            let int8 = try SavedModel(model), libtorch = try SavedModel(model)
            try int8.quantize()  // throws, saying how to calibrate, when there is no calibration or a stale one
            try libtorch.quantize()
            for member in libtorch.members { member.int8Body?.runsThroughOneDNN = false }
            let int8Direct = int8.classifier.int8Body?.runsThroughOneDNN == true ? "oneDNN" : "libtorch"
            paths += [
                (
                    "Quadrat int8 (\(int8Direct))",
                    { x in try Torch.inferenceMode { try int8.probabilities(inputs: Array(x)) } }
                ),
                (
                    "Quadrat int8 (libtorch \(QuantizedEngine.current.lowercased()))",
                    { x in try Torch.inferenceMode { try libtorch.probabilities(inputs: Array(x)) } }
                ),
            ]
            return (paths, int8)
        } catch {
            emit("no INT8 row: \(error)")
            return (paths, nil)
        }
    }

    /// The bfloat16 paths: through `through` (oneDNN directly where it can) and under ATen's autocast.
    func bf16Paths(_ saved: SavedModel, aten: SavedModel, through: String) -> [Path] {
        [
            (
                "Quadrat bf16 (\(through))",
                { x in try Torch.inferenceMode { try saved.probabilities(inputs: Array(x), mixedPrecision: true) } }
            ),
            (
                "Quadrat bf16 autocast (ATen)",
                { x in try Torch.inferenceMode { try aten.probabilities(inputs: Array(x), mixedPrecision: true) } }
            ),
        ]
    }

    /// The median rate of each path, and its ratio to ONNX Runtime's fp32 in the same round (median, and the
    /// smallest and largest over the rounds).
    func printTable(_ rows: [Row]) {
        let base = rows.first { $0.path.hasPrefix("ONNX Runtime") && $0.path.hasSuffix("fp32") }?.rates
        emit("")
        emit(
            "path                           median img/s   × ONNX Runtime fp32 (median, range)   "
                + "largest probability difference")
        for row in rows {
            var ratio = "–"
            if let base, base.count == row.rates.count {
                let ratios = zip(row.rates, base).map { $0 / $1 }.sorted()
                ratio = String(format: "%.2f× (%.2f–%.2f)", ratios.median, ratios[0], ratios[ratios.count - 1])
            }
            emit(
                row.path.padding(toLength: 30, withPad: " ", startingAt: 0)
                    + String(format: "%13.1f", row.rates.median) + ratio.leftPadded(to: 30)
                    + String(format: "%33.6f", row.maxDifference))
        }
    }

    /// Images per second of `work` over every input in batches, round after round for at least ``seconds`` after a
    /// warm-up round, and the warm-up round's answer.
    func time(
        _ work: @escaping (ArraySlice<[Float]>) throws -> [[Double]]
    ) -> ([[Float]]) throws -> (Double, [[Double]]) {
        { inputs in
            func round() throws -> [[Double]] {
                try stride(from: 0, to: inputs.count, by: batch).flatMap {
                    try work(inputs[$0..<min($0 + batch, inputs.count)])
                }
            }
            let answer = try round()
            var rounds = 0
            let start = Date()
            while rounds == 0 || Date().timeIntervalSince(start) < seconds {
                _ = try round()
                rounds += 1
            }
            return (Double(rounds * inputs.count) / Date().timeIntervalSince(start), answer)
        }
    }

    /// ONNX Runtime on the model's export, and on its INT8 export when `int8` (the model quantized) is given, through
    /// `scripts/bench_onnxruntime.py` and a Python that has it: a path per export, each run giving its rate and
    /// largest difference (nil, with a message, when no Python has it). On its first run the INT8 path also prints
    /// how often its decisions agree with Quadrat's INT8 ones. The exports lie in a temporary folder the paths remove
    /// when they are gone.
    func onnxRuntime(
        _ saved: SavedModel, files: [URL], int8: SavedModel?
    ) throws -> [(name: String, run: (Bool) -> (Double, Double)?)] {
        let folder = try ScratchFolder("quadrat-bench-\(getpid())")
        let sample = folder.url.appendingPathComponent("sample.safetensors")
        try ModelExport.paritySample(saved, photos: files, to: sample)
        if let int8 {
            // Quadrat's INT8 answer beside its fp32 one, for the decisions the INT8 export must agree with.
            var (tensors, metadata) = try Safetensors.read(sample)
            let inputs = try files.map { try int8.input(imageBytes: FileBytes.read($0), source: $0) }
            let p = try int8.probabilities(inputs: inputs)
            tensors["probabilities_int8"] = try Tensor(p.flatMap { $0.map(Float.init) }, shape: [p.count, p[0].count])
            try Safetensors.write(tensors, metadata: metadata, to: sample)
        }
        let script = Self.scriptsFolder.appendingPathComponent("bench_onnxruntime.py")
        guard FileManager.default.fileExists(atPath: script.path) else {
            emit("ONNX Runtime: \(script.path) not found (run from the repository, or a build inside it): skipped")
            return []
        }
        return try (int8 == nil ? ["fp32"] : ["fp32", "int8"]).map { precision in
            let onnx = folder.url.appendingPathComponent("model-\(precision).onnx")
            try ModelExport.onnx(saved, to: onnx, int8: precision == "int8")
            let extra = precision == "int8" ? ["--agreement-with", "probabilities_int8"] : []
            return (
                "ONNX Runtime \(precision)",
                { first in
                    // The folder lives as long as the paths that use it.
                    guard folder.exists, let answer = runScript(onnx: onnx, sample: sample, extra: extra),
                        let rate = answer["images_per_second"] as? Double,
                        let difference = answer["max_difference"] as? Double
                    else {
                        emit(
                            "ONNX Runtime (\(precision)): no Python with onnxruntime ran it "
                                + "(\(Self.pythons.joined(separator: ", "))): skipped")
                        return nil
                    }
                    if first, let version = answer["version"] { emit("ONNX Runtime \(version), \(precision)") }
                    if first, let agreement = answer["agreement"] as? Double, let photos = answer["photos"] as? Int {
                        emit(
                            String(
                                format:
                                    "ONNX Runtime int8's decisions agree with Quadrat int8's on %.1f %% of %d photos "
                                    + "(the timed sample; `quadrat export --int8 --parity-sample PHOTOS` and "
                                    + "scripts/onnx_parity.py check a whole folder)", agreement * 100, photos))
                    }
                    return (rate, difference)
                }
            )
        }
    }

    /// `scripts/bench_onnxruntime.py` on `onnx` and `sample` with the first Python that runs it; its JSON answer.
    func runScript(onnx: URL, sample: URL, extra: [String]) -> [String: Any]? {
        let script = Self.scriptsFolder.appendingPathComponent("bench_onnxruntime.py")
        for python in Self.pythons {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments =
                [
                    script.path, onnx.path, sample.path, "--batch", "\(batch)", "--threads", "\(Torch.threads)",
                    "--seconds", "\(seconds)",
                ] + extra
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            do { try process.run() } catch { continue }  // no such Python: try the next
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            // A Python without onnxruntime (exit 2) or an answer that is not JSON: try the next.
            guard process.terminationStatus == 0,
                let answer = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            else { continue }
            return answer
        }
        return nil
    }

    /// Pythons tried for ONNX Runtime: `$QUADRAT_PYTHON`, the peers' environment, the system's.
    static var pythons: [String] {
        let home = FileManager.default.homeDirectoryForCurrentUser.path
        return [
            ProcessInfo.processInfo.environment["QUADRAT_PYTHON"], "\(home)/.cache/quadrat-peers/ort/bin/python",
            "/usr/bin/python3",
        ].compactMap { $0 }
    }

    /// The repository's `scripts/` folder: beside the build folder the binary runs from, or the working directory's.
    static var scriptsFolder: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("scripts")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("bench_onnxruntime.py").path) {
                return candidate
            }
            folder.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: "scripts")
    }

    static func largestDifference(_ a: [[Double]], _ b: [[Double]]) -> Double {
        zip(a, b).flatMap { zip($0, $1).map { abs($0 - $1) } }.max() ?? .nan
    }
}

extension String {
    /// The string right-aligned in `width` columns.
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

/// A folder of temporary files, removed when the last reference to it goes.
private final class ScratchFolder {
    let url: URL

    init(_ name: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var exists: Bool { FileManager.default.fileExists(atPath: url.path) }

    deinit { try? FileManager.default.removeItem(at: url) }  // temporary files: leaving them costs only disk
}
