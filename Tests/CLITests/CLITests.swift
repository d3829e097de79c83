import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision
import Workflow

/// The `quadrat` binary built with these tests: CLITests depends on the executable target, so the build that made the
/// test runner made it, beside the runner, from the same sources.
let quadratBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("quadrat")

/// Starts the `quadrat` binary built with the tests, with quiet progress; returns its output pipes.
/// `home` replaces the tests' shared `QUADRAT_HOME` (for a command that changes what is stored there); `environment`
/// adds to or replaces the test process's variables.
func launchQuadrat(
    _ arguments: [String], home: URL? = nil, environment extra: [String: String] = [:]
) throws -> (process: Process, out: Pipe, err: Pipe) {
    let process = Process()
    process.executableURL = quadratBinary
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["QUADRAT_QUIET"] = "1"
    environment["QUADRAT_HOME"] = (home ?? Fixtures.isolatedHome).path
    environment.merge(extra) { $1 }
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return (process, out, err)
}

/// What a running `quadrat` printed, read until `marker` appears (or the output ends).
func readOutput(_ pipe: Pipe, until marker: String) -> String {
    var seen = ""
    while !seen.contains(marker) {
        let chunk = pipe.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        seen += String(decoding: chunk, as: UTF8.self)
    }
    return seen
}

/// Runs `quadrat` to the end.
func quadrat(
    _ arguments: [String], home: URL? = nil, environment: [String: String] = [:]
) throws -> (status: Int32, output: String, errors: String) {
    let (process, out, err) = try launchQuadrat(arguments, home: home, environment: environment)
    // Read both pipes while the process runs, so a full pipe cannot block it.
    nonisolated(unsafe) var errorData = Data()
    let reader = Thread { errorData = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outputData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return (
        process.terminationStatus, String(decoding: outputData, as: UTF8.self),
        String(decoding: errorData, as: UTF8.self)
    )
}

@Suite("quadrat end to end", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct CLITests {
    @Test func trainPredictEvaluateInterpret() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 5, size: 48)
        let run = data.appendingPathComponent("run")
        let train = try quadrat([
            "train", data.path, "--out", run.path, "--size", "32", "--presize", "44", "--max-lighting", "0.1",
            "--batch-size", "8", "--cycles", "1", "--tta", "1", "--no-lr-find",
        ])
        #expect(train.status == 0, "\(train.errors)")
        for file in ["model.safetensors", "history.csv", "valid_predictions.csv", "report.html", "config.json"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file) missing")
        }
        // An unreadable photo given to predict: a failure of the job (status 1), not of its usage (64).
        let empty = data.appendingPathComponent("empty.jpg")
        try Data().write(to: empty)
        let predictedEmpty = try quadrat(["predict", run.appendingPathComponent("model.safetensors").path, empty.path])
        #expect(predictedEmpty.status == 1, "\(predictedEmpty.errors)")
        #expect(predictedEmpty.errors.contains("empty.jpg: is empty (0 bytes)"), "\(predictedEmpty.errors)")
        try exportWritesInferenceWeightsThatGiveTheSameLogits(run.appendingPathComponent("model.safetensors"))
        // Exporting over the model being read is refused before anything is written.
        let before = try Data(contentsOf: run.appendingPathComponent("model.safetensors"))
        let overItself = try quadrat([
            "export", run.path, "--format", "onnx", "--out", run.appendingPathComponent("./model.safetensors").path,
        ])
        #expect(
            overItself.status == 64 && overItself.errors.contains("is the model being exported"), "\(overItself.errors)"
        )
        #expect(try Data(contentsOf: run.appendingPathComponent("model.safetensors")) == before)
        try shardedPredictionsMergeToTheUnshardedOnes(run.appendingPathComponent("model.safetensors"), data: data)
        try int8PredictionsFollowFloat(run.appendingPathComponent("model.safetensors"), data: data)
        try serveAnswersAndStopsOnSIGINT(run.appendingPathComponent("model.safetensors"))
        // The report has every section.
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        for id in ["summary", "dataset", "augmentation", "training", "validation", "problems"] {
            #expect(html.contains("<section id='\(id)'>"), "\(id)")
        }
        for heading in [
            "Random correct", "Random incorrect", "Most confident correct", "Most confident incorrect",
            "Most uncertain", "Confusion matrix", "Share of each true class", "ROC curve", "Reliability",
            "95% interval",
            "Baseline: always answering", "--batch-size", "class='heat-toggle'", "class='heat' alt=", " · loss ",
        ] {
            #expect(html.contains(heading), "\(heading)")
        }
        #expect(
            html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>") && html.contains("data:image/jpeg;base64,"))
        // config.json records what was used.
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("config.json")))
            as? [String: Any]
        #expect(
            config?["size"] as? Int == 32 && config?["presize"] as? Int == 44
                && config?["maxLighting"] as? Double == 0.1)
        // Predictions go through the presize cache the model was trained through.
        #expect(try SavedModel(run.appendingPathComponent("model.safetensors")).presizeCache.shorterSide == 44)

        // Kaggle submission: one row per test image, names without extension, probabilities in [0, 1].
        let submission = data.appendingPathComponent("submission.csv")
        let predict = try quadrat([
            "predict", run.appendingPathComponent("model.safetensors").path, data.appendingPathComponent("test").path,
            "--out", submission.path,
        ])
        #expect(predict.status == 0, "\(predict.errors)")
        let rows = try String(contentsOf: submission, encoding: .utf8).split(separator: "\n")
        #expect(rows.first == "name,invasive")
        #expect(rows.count == 6)
        for row in rows.dropFirst() {
            let f = row.split(separator: ",")
            #expect(
                f.count == 2 && !f[0].contains(".") && (Double(f[1]).map { (0...1).contains($0) } ?? false), "\(row)")
        }
        // The same model read back predicts the same, with the same header after the training CSV has gone;
        // one image works too; JSON for scripts.
        let labels = data.appendingPathComponent("train_labels.csv")
        try FileManager.default.moveItem(at: labels, to: data.appendingPathComponent("moved.csv"))
        let again = try quadrat([
            "predict", run.appendingPathComponent("model.safetensors").path, data.appendingPathComponent("test").path,
        ])
        #expect(again.output == (try String(contentsOf: submission, encoding: .utf8)))
        try FileManager.default.moveItem(at: data.appendingPathComponent("moved.csv"), to: labels)
        let single = try quadrat([
            "predict", run.appendingPathComponent("model.safetensors").path,
            data.appendingPathComponent("test/1.jpg").path, "--format", "json",
        ])
        #expect(single.status == 0 && single.output.contains("\"name\" : \"1\""))
        // The run folder stands for its model file; a folder without one is a usage error naming it.
        let byFolder = try quadrat([
            "predict", run.path, data.appendingPathComponent("test/1.jpg").path, "--format", "json",
        ])
        #expect(byFolder.status == 0 && byFolder.output == single.output, "\(byFolder.errors)")
        let noModel = try quadrat(["predict", data.appendingPathComponent("test").path, data.path])
        #expect(
            noModel.status == 64 && noModel.errors.contains("is a folder without a model.safetensors"),
            "\(noModel.errors)")
        // Paths read as paths: no escaped slashes in JSON.
        #expect(single.output.contains("\"file\" : \"\(data.path)/test/1.jpg\"") && !single.output.contains("\\/"))

        let evaluate = try quadrat(["evaluate", run.appendingPathComponent("model.safetensors").path, data.path])
        #expect(
            evaluate.status == 0 && evaluate.output.contains("accuracy:")
                && evaluate.output.contains("confusion matrix"), "\(evaluate.errors)")
        let interpretOut = data.appendingPathComponent("interpret.html")
        let interpret = try quadrat([
            "interpret", run.appendingPathComponent("model.safetensors").path, data.path, "--out", interpretOut.path,
        ])
        #expect(interpret.status == 0, "\(interpret.errors)")
        #expect(try String(contentsOf: interpretOut, encoding: .utf8).contains("Most uncertain"))

        // explore: per-class brightness, and the hint (the generated classes differ in brightness).
        let explorePage = data.appendingPathComponent("explore.html")
        let explore = try quadrat(["explore", data.path, "--out", explorePage.path])
        #expect(
            explore.status == 0 && explore.output.contains("hint: classes 0 and 1 differ in brightness"),
            "\(explore.output)")
        let explored = try String(contentsOf: explorePage, encoding: .utf8)
        #expect(explored.contains("<section id='brightness'>") && explored.contains("<section id='augmentation'>"))
        // test/ is counted; the augmentation preview has the validation view and six augmented ones per class.
        #expect(explore.output.contains("test/: 5 unlabelled images") && explored.contains("Unlabelled test folder: 5"))
        #expect(explored.components(separatedBy: "augmented 6").count == 3)

        // A model file from a newer Quadrat is refused.
        let check = try quadrat(["check", data.path])
        #expect(check.status == 0 && check.output.contains("no problems found"), "\(check.output)")
    }

    /// `predict --shard i/N` then `--merge`: the same rows, in the same order, as one unsharded run; a part
    /// given twice is refused naming it; a bad shard is a usage error.
    func shardedPredictionsMergeToTheUnshardedOnes(_ model: URL, data: URL) throws {
        let test = data.appendingPathComponent("test").path
        let whole = try quadrat(["predict", model.path, test, "--format", "csv"])
        #expect(whole.status == 0, "\(whole.errors)")
        var parts: [String] = []
        for i in 1...3 {
            let part = data.appendingPathComponent("part\(i).csv").path
            let r = try quadrat(["predict", model.path, test, "--shard", "\(i)/3", "--out", part])
            #expect(r.status == 0, "\(r.errors)")
            parts.append(part)
        }
        // Given out of order: the merge restores the listing's order. Each shard ran in batches of its own, so the
        // promise is the one of every other split of the work: the same photos in the same order with the same
        // decisions, probabilities within PredictionShards.tolerance (a last digit can differ).
        let merged = try quadrat(["predict", model.path, "--format", "csv", "--merge"] + parts.reversed())
        #expect(merged.status == 0, "\(merged.errors)")
        let mergedDifference = try csvPredictionsDifference(merged.output, whole.output)
        #expect(mergedDifference <= PredictionShards.tolerance, "\(merged.output)\n\(whole.output)")
        let twice = try quadrat(["predict", model.path, "--merge", parts[0], parts[0]])
        #expect(twice.status == 1 && twice.errors.contains("part1.csv:2: photo 0 is also in"), "\(twice.errors)")
        let bad = try quadrat(["predict", model.path, test, "--shard", "4/3"])
        #expect(bad.status == 64 && bad.errors.contains("--shard must be i/N"), "\(bad.errors)")
        // Three processes of one group split the photos; rank 0 alone writes them all, in the listing's order.
        // Other batch compositions and thread counts pick other kernels: what is promised is the same photos in the
        // same order with the same decisions, and probabilities within PredictionShards.tolerance.
        let launched = try quadrat(["launch", "-n", "3", "--", "predict", model.path, test, "--format", "csv"])
        #expect(launched.status == 0, "\(launched.errors)")
        let difference = try csvPredictionsDifference(launched.output, whole.output)
        #expect(difference <= PredictionShards.tolerance, "\(launched.output)\n\(whole.output)")
    }

    /// `quadrat serve` (an async command) listens on a free loopback port, answers, and on SIGINT finishes the
    /// requests in flight and exits 0.
    func serveAnswersAndStopsOnSIGINT(_ model: URL) throws {
        let (process, out, err) = try launchQuadrat(["serve", model.path, "--port", "0"])
        let announced = readOutput(out, until: "/\n")
        guard let range = announced.range(of: #"127\.0\.0\.1:\d+/"#, options: .regularExpression),
            let port = Int(announced[range].dropFirst("127.0.0.1:".count).dropLast())
        else {
            process.terminate()
            Issue.record("serve announced no address: \(announced)")
            return
        }
        let health = try LoopbackHTTP(port: port).request("GET", "/healthz")
        #expect(health.status == 200, "\(health.text)")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0 && rest.contains("stopped"), "\(rest) \(errors)")
    }

    /// The largest probability difference between two `--format csv` outputs, which must list the same photos in
    /// the same order with the same decisions (else an error).
    func csvPredictionsDifference(_ a: String, _ b: String) throws -> Double {
        let rowsA = a.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        let rowsB = b.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        guard rowsA.count == rowsB.count, rowsA.first == rowsB.first, rowsA.count > 1 else {
            throw TestFailure("different photos or headers:\n\(a)\n\(b)")
        }
        var largest = 0.0
        for (x, y) in zip(rowsA.dropFirst(), rowsB.dropFirst()) {
            // name, file, predicted, then one probability per class.
            guard x.count == y.count, x.prefix(3) == y.prefix(3) else { throw TestFailure("rows differ: \(x) \(y)") }
            for (p, q) in zip(x.dropFirst(3), y.dropFirst(3)) {
                guard let p = Double(p), let q = Double(q) else { throw TestFailure("not a probability: \(x) \(y)") }
                largest = max(largest, abs(p - q))
            }
        }
        return largest
    }

    /// `quadrat export`: weights only (no optimizer state), a description other tools can follow, and the same
    /// logits as the model file when loaded into a fresh network.
    func exportWritesInferenceWeightsThatGiveTheSameLogits(_ model: URL) throws {
        let exported = try quadrat(["export", model.path])
        #expect(exported.status == 0, "\(exported.errors)")
        let weights = model.deletingLastPathComponent().appendingPathComponent("model-inference.safetensors")
        let description = weights.deletingPathExtension().appendingPathExtension("json")
        let (tensors, metadata) = try Safetensors.read(weights)
        #expect(metadata["format"] == "quadrat-inference-1")
        #expect(
            !tensors.keys.contains { $0.hasPrefix("optimizer.") }
                && tensors.keys.allSatisfy {
                    $0.hasPrefix("body.") || $0.hasPrefix("head.")
                })
        let info = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: description)) as? [String: Any])
        #expect(info["classes"] as? [String] == ["0", "1"] && info["size"] as? Int == 32)
        #expect(
            (info["mean"] as? [Double])?.count == 3 && (info["preprocessing"] as? String)?.contains("centre") == true)
        let saved = try SavedModel(model)
        let fresh = try Classifier(
            saved.architecture, classes: saved.classes, head: saved.classifier.headKind, pretrained: false)
        try fresh.load(tensors)
        fresh.eval()
        let x = try Tensor.randn([2, 3, 32, 32])
        let difference = try Torch.withoutGrad {
            try (fresh(x) - saved.classifier(x.contiguous(.channelsLast))).abs().max().item()
        }
        #expect(difference < 1e-4, "exported weights give logits \(difference) away from the model file's")

        // ONNX, with a parity sample of one photo: the file, the sample and the command that checks it.
        let photo = model.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("test/1.jpg")
        let onnx = try quadrat(["export", model.path, "--format", "onnx", "--parity-sample", photo.path])
        let onnxURL = model.deletingLastPathComponent().appendingPathComponent("model-inference.onnx")
        #expect(onnx.status == 0 && onnx.output.contains("scripts/onnx_parity.py"), "\(onnx.errors)")
        #expect(FileManager.default.fileExists(atPath: onnxURL.path))
        let sample = try Safetensors.read(onnxURL.deletingPathExtension().appendingPathExtension("parity.safetensors"))
        #expect(sample.tensors["image"]?.shape == [1, 3, 32, 32] && sample.tensors["probabilities"]?.shape == [1, 2])
        let mismatched = try quadrat(["export", model.path, "--parity-sample", photo.path])
        #expect(mismatched.status == 64 && mismatched.errors.contains("--parity-sample goes with --format onnx"))
    }

    @Test func edgeCasesExitNonZeroWithOneClearLine() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1)
        let missing = try quadrat(["train", "/nonexistent/data", "--out", "/tmp/x"])
        #expect(
            missing.status != 0 && missing.errors.contains("/nonexistent/data")
                && missing.errors.contains("does not exist"))
        let arch = try quadrat(["train", data.path, "--out", "/tmp/x", "--arch", "vgg16"])
        #expect(arch.status == 64 && arch.errors.contains("The value 'vgg16' is invalid for '--arch <arch>'"))
        // A mistyped command gets a suggestion, not "2 unexpected arguments".
        let typo = try quadrat(["trian", "flora"])
        #expect(
            typo.status == 64 && typo.errors.contains("unknown command 'trian'; did you mean 'train'?"),
            "\(typo.errors)")
        let far = try quadrat(["frobnicate"])
        #expect(
            far.status == 64 && far.errors.contains("unknown command 'frobnicate' (quadrat --help"), "\(far.errors)")
        #expect(arch.errors.contains("resnet34"), "the error lists the architectures there are")
        // Sizes far beyond memory are usage errors before any work (explore --size 100000 tried to allocate 120 GB).
        for (command, limit) in [("explore", "32 to 1024"), ("lr-find", "32 to 1024"), ("audit", "32 to 1024")] {
            let huge = try quadrat([command, data.path, "--size", "100000"])
            #expect(
                huge.status == 64 && huge.errors.contains("--size must be \(limit), not 100000"), "\(huge.errors)")
        }
        // A YAML config is read (its architecture is refused by name), and a flag overrides it.
        let yaml = data.appendingPathComponent("config.yaml")
        try "arch: alexnet\nrecipe:\n  ttaViews: 2\n".write(to: yaml, atomically: true, encoding: .utf8)
        let fromYAML = try quadrat(["train", data.path, "--out", "/tmp/x", "--config", yaml.path])
        #expect(
            fromYAML.status != 0 && fromYAML.errors.contains("option 'arch' must be one of efficientnet-lite0")
                && fromYAML.errors.contains("not 'alexnet'"), "\(fromYAML.errors)")
        let int8 = try quadrat(["train", data.path, "--out", "/tmp/x", "--precision", "int8"])
        #expect(int8.status != 0 && int8.errors.contains("int8 is for inference"), "\(int8.errors)")
        let lighting = try quadrat(["train", data.path, "--out", "/tmp/x", "--max-lighting", "1.5"])
        #expect(
            lighting.status != 0 && lighting.errors.contains("--max-lighting must be at least 0 and below 1, not 1.5"),
            "\(lighting.errors)")
        let preset = try quadrat(["train", data.path, "--out", "/tmp/x", "--augmentation", "sideways"])
        #expect(
            preset.status == 64
                && preset.errors.contains(
                    "The value 'sideways' is invalid for '--augmentation <augmentation>'. Please provide one of "
                        + "'side-on', 'top-down' or 'dihedral'."),
            "\(preset.errors)")
        // --print-config shows the options as they would be used; fed back as a config file, it says the same.
        let printed = try quadrat([
            "train", data.path, "--out", "/tmp/x", "--batch-size", "16", "--sampler", "balanced", "--print-config",
        ])
        #expect(printed.status == 0 && printed.output.contains("\"batchSize\" : 16"), "\(printed.errors)")
        #expect(printed.output.contains("\"sampler\" : \"balanced\""))
        let effective = data.appendingPathComponent("effective.json")
        try printed.output.write(to: effective, atomically: true, encoding: .utf8)
        let again = try quadrat(["train", data.path, "--out", "/tmp/x", "--config", effective.path, "--print-config"])
        #expect(again.output == printed.output, "\(again.errors)")
        let badConfig = data.appendingPathComponent("bad.json")
        try "{ not json".write(to: badConfig, atomically: true, encoding: .utf8)
        let bad = try quadrat(["train", data.path, "--out", "/tmp/x", "--config", badConfig.path])
        #expect(bad.status != 0 && bad.errors.contains("bad.json is not valid"))
        try "file,species\n1,a\n".write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let columns = try quadrat(["train", data.path, "--out", "/tmp/x", "--label-column", "label"])
        #expect(columns.status != 0 && columns.errors.contains("has no column 'label'; its header is: file, species"))
        let empty = try Fixtures.temporaryFolder()
        let model = try Fixtures.temporaryFolder().appendingPathComponent("m.safetensors")
        try Data("{}".utf8).write(to: model)
        let noModel = try quadrat(["predict", model.path, empty.path])
        #expect(noModel.status != 0)
        let noImages = try quadrat(["check", empty.path, "--unlabelled"])
        #expect(noImages.status != 0 && noImages.output.contains("contains no .jpg, .jpeg or .png images"))
        let corrupt = data.appendingPathComponent("train/2.jpg")
        try Data("nope".utf8).write(to: corrupt)
        let check = try quadrat(["check", data.appendingPathComponent("train").path, "--unlabelled"])
        #expect(check.status != 0 && check.output.contains("train/2.jpg: is not a JPEG or PNG image"))
        try pixelLimitIsReportedAndRaisedByAFlag()
    }

    /// A 20000 × 20000 PNG of a few hundred bytes is refused from its header, naming the flag that raises the limit.
    func pixelLimitIsReportedAndRaisedByAFlag() throws {
        let folder = try Fixtures.temporaryFolder()
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13]
        png += Array("IHDR".utf8) + [0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0]  // 20000 × 20000, RGB
        png += [0x6C, 0x12, 0xD1, 0x6E]  // the chunk's CRC
        png += [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82]
        try Data(png).write(to: folder.appendingPathComponent("huge.png"))
        let refused = try quadrat(["check", folder.path, "--unlabelled"])
        #expect(
            refused.status != 0
                && refused.output.contains(
                    "huge.png: is 20000 × 20000 pixels (400 megapixels), above the limit of 100 megapixels "
                        + "(--max-pixels raises it)"),
            "\(refused.output)")
        let raised = try quadrat(["check", folder.path, "--unlabelled", "--max-pixels", "500M"])
        #expect(raised.status != 0 && !raised.output.contains("above the limit"), "\(raised.output)")
        let zero = try quadrat(["check", folder.path, "--unlabelled", "--max-pixels", "0"])
        #expect(zero.status != 0 && zero.errors.contains("--max-pixels must be at least 1 (got 0)"))
    }

    @Test func benchRefusesRoundsAndBatchesBelowOne() throws {
        let rounds = try quadrat(["bench", "inference", "--rounds", "0"])
        #expect(rounds.status == 64 && rounds.errors.contains("--rounds must be at least 1, not 0"), "\(rounds.errors)")
        let batch = try quadrat(["bench", "models", "--batch-size", "0"])
        #expect(
            batch.status == 64 && batch.errors.contains("--batch-size must be at least 1, not 0"), "\(batch.errors)")
    }

    @Test func demoLayoutIsDeterministic() throws {
        // A miniature ELPV folder: 20 cells, 8 defective.
        let source = try Fixtures.temporaryFolder()
        try FileManager.default.createDirectory(
            at: source.appendingPathComponent("images"), withIntermediateDirectories: true)
        var labels = ""
        for i in 0..<20 {
            try FileManager.default.copyItem(
                at: Fixtures.url("images/gray.png"), to: source.appendingPathComponent("images/cell\(i).png"))
            labels +=
                "images/cell\(i).png  \(i < 8 ? (i % 2 == 0 ? "1.0" : "0.6666666666666666") : (i % 3 == 0 ? "0.3333333333333333" : "0.0"))  mono\n"
        }
        try labels.write(to: source.appendingPathComponent("labels.csv"), atomically: true, encoding: .utf8)
        let a = try Fixtures.temporaryFolder(), b = try Fixtures.temporaryFolder()
        let counts = try ELPVLayout.write(source: source, to: a)
        try ELPVLayout.write(source: source, to: b)
        #expect(counts.train == 15 && counts.test == 5)
        let csvA = try String(contentsOf: a.appendingPathComponent("train_labels.csv"), encoding: .utf8)
        #expect(csvA == (try String(contentsOf: b.appendingPathComponent("train_labels.csv"), encoding: .utf8)))
        #expect(csvA.hasPrefix("name,defective\n"))
        let answers = try String(contentsOf: a.appendingPathComponent("answers/test_labels.csv"), encoding: .utf8)
        // Stratified: 8/20 of 5.
        #expect(answers.split(separator: "\n").dropFirst().filter { $0.hasSuffix(",1") }.count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: a.appendingPathComponent("test").path).count == 5)
    }
}

@Suite("Ctrl-C during training", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct InterruptTests {
    /// Ctrl-C in the unfrozen phase saves a checkpoint; `--resume` trains only what was left and ends with the
    /// model an uninterrupted run saves.
    @Test func ctrlCSavesACheckpointAndResumeFinishesExactly() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 1, size: 40)
        let run = data.appendingPathComponent("run")
        let options = [
            "--size", "32", "--batch-size", "4", "--cycles", "5", "--tta", "0", "--no-lr-find", "--lr", "3e-3",
        ]
        let (process, out, err) = try launchQuadrat(["train", data.path, "--out", run.path] + options)
        // Wait for the first unfrozen epoch row (a line that starts with the phase), then press Ctrl-C.
        let seen = readOutput(out, until: "\nunfrozen ")
        kill(process.processIdentifier, SIGINT)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(seen.contains("\nunfrozen "))
        #expect(process.terminationStatus == 130, "stopped by Ctrl-C: 128 + SIGINT, as the shell reports it")
        #expect(
            errors.contains("checkpoint saved to \(run.appendingPathComponent("interrupted.safetensors").path)"),
            "\(errors)")
        #expect(errors.contains("resume with:") && errors.contains("--resume"))
        let checkpoint = run.appendingPathComponent("interrupted.safetensors")
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))

        let resumed = try quadrat(["train", data.path, "--out", run.path, "--resume", checkpoint.path] + options)
        #expect(resumed.status == 0, "\(resumed.errors)")
        #expect(resumed.output.contains("resuming from \(checkpoint.path)"), "\(resumed.output)")
        #expect(!resumed.output.contains("\nhead-augmented "), "a resumed run must not train the head again")
        // It goes on at the rates it started with, and the checkpoint, served, is removed.
        #expect(resumed.output.contains("rates from the checkpoint"), "\(resumed.output)")
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path))
        let straightRun = data.appendingPathComponent("straight")
        let straight = try quadrat(["train", data.path, "--out", straightRun.path] + options)
        #expect(straight.status == 0, "\(straight.errors)")
        let want = try Safetensors.read(straightRun.appendingPathComponent("model.safetensors")).tensors
        let got = try Safetensors.read(run.appendingPathComponent("model.safetensors")).tensors
        #expect(Set(got.keys) == Set(want.keys))
        for (name, tensor) in want where tensor.dtype == .float32 {
            let difference = try (got[name].map { try ($0 - tensor).abs().max().item() } ?? .infinity)
            #expect(difference <= 1e-6, "\(name) differs by \(difference) after resuming")
        }
        // The history has every epoch once, as the uninterrupted run's does.
        let history = try String(contentsOf: run.appendingPathComponent("history.csv"), encoding: .utf8)
        let straightHistory = try String(contentsOf: straightRun.appendingPathComponent("history.csv"), encoding: .utf8)
        #expect(history.split(separator: "\n").count == straightHistory.split(separator: "\n").count)
    }

    /// A signal outside the training loop (or a second one inside it) quits at once, with the shell's status for
    /// a signal and no partial file left behind.
    @Test func aSignalOutsideTrainingQuitsAtOnceAndLeavesNoPartialFiles() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 1, size: 40)
        let run = data.appendingPathComponent("run")
        let (process, out, err) = try launchQuadrat([
            "train", data.path, "--out", run.path, "--size", "32", "--batch-size", "4", "--cycles", "5", "--tta", "0",
            "--no-lr-find",
        ])
        // "data: …" is printed before the presize cache is filled, a second or more before training starts.
        _ = readOutput(out, until: "data: ")
        kill(process.processIdentifier, SIGTERM)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + SIGTERM, "\(errors)")
        #expect(errors.contains("stopped (signal \(SIGTERM))"))
        for folder in [run, Fixtures.isolatedHome] {
            let names = FileManager.default.subpaths(atPath: folder.path) ?? []
            #expect(!names.contains { $0.contains("quadrat-partial") }, "\(names)")
        }
    }
}
