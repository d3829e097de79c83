import Foundation
import Learn
import TestSupport
import Testing

extension CLITests {
    /// `train` leaves an INT8 calibration beside the model; `predict --precision int8` follows the float answers
    /// closely; without a calibration it says how to make one, and `quadrat quantize` makes it.
    func int8PredictionsFollowFloat(_ model: URL, data: URL) throws {
        let calibration = Int8Calibration.url(forModelFile: model)
        #expect(FileManager.default.fileExists(atPath: calibration.path), "train wrote no INT8 calibration")
        let test = data.appendingPathComponent("test").path
        let float = try quadrat(["predict", model.path, test, "--format", "csv", "--precision", "fp32"])
        let int8 = try quadrat(["predict", model.path, test, "--format", "csv", "--precision", "int8"])
        #expect(float.status == 0 && int8.status == 0, "\(float.errors) \(int8.errors)")
        let difference = try Self.largestProbabilityDifference(float.output, int8.output)
        #expect(difference <= 0.15, "INT8 probabilities \(difference) away from float's")

        try FileManager.default.removeItem(at: calibration)
        let missing = try quadrat(["predict", model.path, test, "--precision", "int8"])
        #expect(missing.status == 1 && missing.errors.contains("quadrat quantize"), "\(missing.errors)")
        let quantize = try quadrat(["quantize", model.path, "--photos", data.appendingPathComponent("train").path])
        #expect(quantize.status == 0 && quantize.output.contains("activation ranges"), "\(quantize.errors)")
        let again = try quadrat(["predict", model.path, test, "--format", "csv", "--precision", "int8"])
        #expect(again.status == 0, "\(again.errors)")
        #expect(try Self.largestProbabilityDifference(float.output, again.output) <= 0.15)
        // A calibration of another model file (here: its fingerprint says so) is refused.
        let copy = model.deletingLastPathComponent().appendingPathComponent("copy.safetensors")
        try FileManager.default.copyItem(at: model, to: copy)
        defer { try? FileManager.default.removeItem(at: copy) }
        var other = try JSONDecoder().decode(Int8Calibration.self, from: Data(contentsOf: calibration))
        other.model = "0-0"
        try JSONEncoder().encode(other).write(to: Int8Calibration.url(forModelFile: copy))
        let stale = try quadrat(["predict", copy.path, test, "--precision", "int8"])
        #expect(stale.status == 1 && stale.errors.contains("was made for another model file"), "\(stale.errors)")
        let noPhotos = try quadrat(["quantize", model.path])
        #expect(noPhotos.status == 64 && noPhotos.errors.contains("--photos"), "\(noPhotos.errors)")
    }

    /// The largest difference between the probability columns of two `--format csv` outputs of the same photos.
    static func largestProbabilityDifference(_ a: String, _ b: String) throws -> Double {
        let rowsA = a.split(separator: "\n").map { $0.split(separator: ",") }
        let rowsB = b.split(separator: "\n").map { $0.split(separator: ",") }
        guard rowsA.count == rowsB.count, rowsA.count > 1, rowsA.first == rowsB.first else {
            throw TestFailure("different photos or headers:\n\(a)\n\(b)")
        }
        let columns = rowsA[0].indices.filter { rowsA[0][$0].hasPrefix("p_") }
        var largest = 0.0
        for (x, y) in zip(rowsA.dropFirst(), rowsB.dropFirst()) {
            guard x.first == y.first else { throw TestFailure("rows differ: \(x) \(y)") }
            for c in columns {
                guard let p = Double(x[c]), let q = Double(y[c]) else { throw TestFailure("not a number: \(x) \(y)") }
                largest = max(largest, abs(p - q))
            }
        }
        return largest
    }
}
