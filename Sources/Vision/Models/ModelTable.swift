import Foundation
import NN
import Torch

/// What a learner needs to know about one architecture (fastai's `model_meta`).
public struct ModelMeta: Sendable {
    /// The input size the pretrained weights were trained at.
    public let defaultSize: Int
    /// How the pretrained weights expect their input.
    public let normalization: Normalization
    /// The ImageNet checkpoint set-up puts in `$QUADRAT_HOME/weights` (its name ends with the first 8 hex digits
    /// of its sha256, which `scripts/setup.sh` checks); nil when the user supplies one with `--weights`.
    public let bundledWeights: String?
    /// First stage of the late body group (the early group is the stem and the stages before it).
    public let lateStage: Int
    /// Builds the network cut for transfer learning (`classes == nil`: the body only, ending in the last
    /// feature map) or whole (with its ImageNet classifier). `dropConnect` is a stochastic-depth rate where
    /// the network has one.
    public let build: @Sendable (_ classes: Int?, _ dropConnect: Double) throws -> Backbone
}

/// The architectures Quadrat can train. Each one's facts are one row of ``meta``: adding an
/// architecture is a new case and its row.
public enum Architecture: String, CaseIterable, Codable, Sendable {
    case efficientNetLite0 = "efficientnet-lite0"
    case efficientNetLite1 = "efficientnet-lite1"
    case efficientNetLite2 = "efficientnet-lite2"
    case resNet18 = "resnet18"
    case resNet34 = "resnet34"
    case resNet50 = "resnet50"

    /// The model table.
    public var meta: ModelMeta {
        switch self {
        case .efficientNetLite0: Self.lite(.lite0, weights: "efficientnet-lite0-57934424.pth")
        case .efficientNetLite1: Self.lite(.lite1, weights: "efficientnet-lite1-77cc7160.pth")
        case .efficientNetLite2: Self.lite(.lite2, weights: "efficientnet-lite2-9656183e.pth")
        case .resNet18: Self.resNet(.resnet18)
        case .resNet34: Self.resNet(.resnet34)
        case .resNet50: Self.resNet(.resnet50)
        }
    }

    /// EfficientNet-Lite: TensorFlow-Lite input scaling; the late group starts at the 40→80 stage.
    private static func lite(_ variant: EfficientNetLite.Variant, weights: String) -> ModelMeta {
        ModelMeta(defaultSize: variant.defaultSize, normalization: .tfLite, bundledWeights: weights, lateStage: 3) {
            try EfficientNetLite(variant, classes: $0, dropConnect: $1)
        }
    }

    /// torchvision's ResNets: ImageNet statistics, no bundled weights; the late group is layer3 and layer4.
    private static func resNet(_ depth: ResNet.Depth) -> ModelMeta {
        ModelMeta(defaultSize: 224, normalization: .imageNet, bundledWeights: nil, lateStage: 2) { classes, _ in
            try ResNet(depth, classes: classes)
        }
    }

    /// The input size the pretrained weights were trained at.
    public var defaultSize: Int { meta.defaultSize }
    /// How the pretrained weights expect their input.
    public var normalization: Normalization { meta.normalization }

    /// Read by ``init(named:)``: config files and model options written by hand may spell the name in capitals.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let name = try c.decode(String.self)
        do {
            try self.init(named: name)
        } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\(error)")
        }
    }

    /// Parses a name (in any case), with a message listing the known ones.
    public init(named name: String) throws {
        guard let arch = Architecture(rawValue: name.lowercased()) else {
            let known = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw VisionError("unknown architecture '\(name)'; expected one of: \(known)")
        }
        self = arch
    }

    /// A fresh network: the body only (`classes == nil`) or with the original classifier layer.
    /// `dropConnect` is EfficientNet-Lite's stochastic-depth rate (0.2 in the reference; lower trains faster on
    /// few epochs).
    public func makeNetwork(classes: Int?, dropConnect: Double = 0.2) throws -> Backbone {
        try meta.build(classes, dropConnect)
    }

    /// The pretrained checkpoint: `file` if given, else the bundled one from the set-up cache.
    public func weightsURL(_ file: URL? = nil) throws -> URL {
        if let file {
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw VisionError("weights file \(file.path) does not exist")
            }
            return file
        }
        guard let name = meta.bundledWeights else {
            throw VisionError(
                "\(rawValue) has no bundled ImageNet weights: pass a torchvision checkpoint with --weights FILE")
        }
        let url = QuadratPaths.weights.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw VisionError(
                "pretrained weights for \(rawValue) not found at \(url.path): run `make setup` (or scripts/setup.sh weights)"
            )
        }
        return url
    }

    /// The ImageNet network with its pretrained weights (for `quadrat classify`).
    public func pretrainedImageNetNetwork(weights: URL? = nil) throws -> Backbone {
        let network = try makeNetwork(classes: 1000)
        try network.load(WeightsFile.stateDict(weightsURL(weights)))
        return network
    }
}
