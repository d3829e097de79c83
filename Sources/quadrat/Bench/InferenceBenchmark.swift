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
    var seconds = 5.0

    /// One timed path.
    struct Row {
        var path: String
        var imagesPerSecond: Double
        var maxDifference: Double
    }

    func run() throws {
        let saved = try SavedModel(model)
        let files = Array(try DataSource.unlabelled(photos).items.map(\.url).prefix(count))
        let inputs = try files.map { try saved.input(imageBytes: FileBytes.read($0), source: $0) }
        emit(
            "\(model.path): \(saved.architecture.rawValue), \(saved.size) px; \(inputs.count) photos, batch \(batch), "
                + "\(Torch.threads) threads, at least \(Int(seconds)) s per path")
        let reference = try saved.probabilities(inputs: inputs)
        var rows: [Row] = []
        // A model read back runs through oneDNN directly where this build can; the same model through ATen beside it.
        let aten = try SavedModel(model)
        for member in aten.members { member.evaluatesThroughOneDNN = false }
        let direct = saved.classifier.oneDNNBody(side: saved.size, bfloat16: false) != nil ? "oneDNN" : "ATen"
        var paths: [(String, (ArraySlice<[Float]>) throws -> [[Double]])] = [
            (
                "Quadrat fp32 (\(direct))",
                { x in try Torch.inferenceMode { try saved.probabilities(inputs: Array(x)) } }
            ),
            ("Quadrat fp32 (ATen)", { x in try Torch.inferenceMode { try aten.probabilities(inputs: Array(x)) } }),
            (
                "Quadrat bf16 (\(direct))",
                { x in try Torch.inferenceMode { try saved.probabilities(inputs: Array(x), mixedPrecision: true) } }
            ),
            (
                "Quadrat bf16 autocast (ATen)",
                { x in try Torch.inferenceMode { try aten.probabilities(inputs: Array(x), mixedPrecision: true) } }
            ),
        ]
        // INT8 when the model has a calibration beside it (`train` writes one; `quadrat quantize` for older models).
        // It runs through oneDNN directly where this build can; libtorch's quantized operators beside it.
        var quantized: SavedModel?
        do {
            let int8 = try SavedModel(model), libtorch = try SavedModel(model)
            try int8.quantize()  // throws, saying how to calibrate, when there is no calibration or a stale one
            try libtorch.quantize()
            for member in libtorch.members { member.int8Body?.runsThroughOneDNN = false }
            quantized = int8
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
        } catch {
            emit("no INT8 row: \(error)")
        }
        for (path, work) in paths {
            let (rate, answer) = try time(work)(inputs)
            rows.append(
                Row(path: path, imagesPerSecond: rate, maxDifference: Self.largestDifference(answer, reference)))
            emit(path.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%8.1f img/s", rate))
        }
        rows += try onnxRuntime(saved, files: files, int8: quantized)
        let base = rows.first { $0.path.hasPrefix("ONNX Runtime") }?.imagesPerSecond
        emit("")
        emit("path                              img/s   × ONNX Runtime fp32   largest probability difference")
        for row in rows {
            let ratio = base.map { String(format: "%.2f×", row.imagesPerSecond / $0) } ?? "–"
            emit(
                row.path.padding(toLength: 30, withPad: " ", startingAt: 0)
                    + String(format: "%9.1f", row.imagesPerSecond) + ratio.leftPadded(to: 22)
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
    /// `scripts/bench_onnxruntime.py` and a Python that has it; none (with a message) when no Python has it.
    func onnxRuntime(_ saved: SavedModel, files: [URL], int8: SavedModel?) throws -> [Row] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("quadrat-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }  // temporary files: leaving them costs only disk
        let sample = folder.appendingPathComponent("sample.safetensors")
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
        var rows: [Row] = []
        for precision in int8 == nil ? ["fp32"] : ["fp32", "int8"] {
            let onnx = folder.appendingPathComponent("model-\(precision).onnx")
            try ModelExport.onnx(saved, to: onnx, int8: precision == "int8")
            let extra = precision == "int8" ? ["--agreement-with", "probabilities_int8"] : []
            guard let answer = runScript(onnx: onnx, sample: sample, extra: extra),
                let rate = answer["images_per_second"] as? Double, let difference = answer["max_difference"] as? Double
            else {
                emit(
                    "ONNX Runtime: no Python with onnxruntime found (\(Self.pythons.joined(separator: ", "))): skipped")
                return rows
            }
            let row = Row(
                path: "ONNX Runtime \(answer["version"] ?? "") \(precision)", imagesPerSecond: rate,
                maxDifference: difference)
            emit(row.path.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%8.1f img/s", rate))
            if let agreement = answer["agreement"] as? Double, let photos = answer["photos"] as? Int {
                emit(
                    String(
                        format: "  its decisions agree with Quadrat int8's on %.1f %% of %d photos", agreement * 100,
                        photos))
            }
            rows.append(row)
        }
        return rows
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
