import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision

/// Model files whose metadata lies, or whose weights are not numbers: refused once, naming the file and the field,
/// instead of trapping (a negative size), failing photo by photo (presize 0) or writing NaN in silence.
@Suite struct DamagedModelTests {
    func refusal(_ url: URL) -> String {
        do {
            _ = try SavedModel(url)
            return "(read)"
        } catch {
            return "\(error)"
        }
    }

    @Test func lyingMetadataIsRefusedByName() throws {
        let folder = try Fixtures.temporaryFolder()
        let good = try ONNXExportTests.modelFile(.efficientNetLite0, size: 48, in: folder)
        let (tensors, metadata) = try Learner.readCheckpoint(good)
        func variant(_ key: String, _ value: String) throws -> URL {
            var changed = metadata
            changed[key] = value
            let url = folder.appendingPathComponent("\(key)-\(value.count).safetensors")
            try Safetensors.write(tensors, metadata: changed, to: url)
            return url
        }
        for size in ["-5", "100000", "0"] {
            let text = refusal(try variant("size", size))
            #expect(text.contains("input size of \(size) px") && text.contains(folder.path), "\(text)")
        }
        #expect(refusal(try variant("presize", "0")).contains("a presize of 0 px"))
        for classes in [#"["cat","cat","owl"]"#, "[]", #"["cat"]"#] {
            #expect(refusal(try variant("classes", classes)).contains("two or more distinct names"), "\(classes)")
        }

        // Weights that are not numbers: predict refuses instead of writing NaN.
        var poisoned = tensors
        for key in tensors.keys where key.hasPrefix("model.head") { poisoned[key] = try tensors[key]! * Double.nan }
        let nan = folder.appendingPathComponent("nan.safetensors")
        try Safetensors.write(poisoned, metadata: metadata, to: nan)
        let photos = ImageDataset(
            items: [ImageItem(url: Fixtures.url("images/baseline.jpg"), name: "baseline", label: nil)], classes: [])
        do {
            _ = try SavedModel(nan).predict(photos)
            Issue.record("predicted with NaN weights")
        } catch {
            #expect("\(error)".contains("gives probabilities that are not numbers"), "\(error)")
        }
    }
}
