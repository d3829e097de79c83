import Foundation
import NN
import Torch

/// How a backbone expects its input: (pixel − mean) / std per channel, pixels on the 0–255 scale.
public struct Normalization: Codable, Sendable, Equatable {
    public var mean: [Double]
    public var std: [Double]

    /// The TensorFlow-Lite convention of the EfficientNet-Lite checkpoints: (x − 127) / 128.
    public static let tfLite = Normalization(mean: [127, 127, 127], std: [128, 128, 128])
    /// ImageNet channel statistics (torchvision's models).
    public static let imageNet = Normalization(mean: [0.485 * 255, 0.456 * 255, 0.406 * 255], std: [0.229 * 255, 0.224 * 255, 0.225 * 255])

    /// Normalises an N×3×H×W float batch of 0–255 pixels.
    public func apply(_ x: Tensor) throws -> Tensor {
        let m = try Tensor(mean.map(Float.init), shape: [1, 3, 1, 1])
        let s = try Tensor(std.map(Float.init), shape: [1, 3, 1, 1])
        return try (x - m) / s
    }
}

/// A backbone body: the feature extractor of a classifier, split into layer groups.
public protocol Backbone: Module {
    /// The last feature map (N × featureWidth × h × w).
    func features(_ x: Tensor) throws -> Tensor
    /// The body's two layer groups (early, late) for freezing and discriminative learning rates.
    var bodyGroups: [[Module]] { get }
    /// Folds BatchNorm into the convolutions (eval-only copies), storing the folded weights as `dtype` in `format`.
    func foldBatchNorms(dtype: DType, format: MemoryFormat) throws
}

extension Backbone {
    /// Turns this network into a fast eval-only copy: BatchNorm folded into the convolutions,
    /// weights channels-last, remaining parameters (the classifier) in `dtype`.
    /// Feed it channels-last input of the same dtype, inside `Torch.inferenceMode`.
    public func prepareForInference(dtype: DType = .float32) throws {
        eval()
        try foldBatchNorms(dtype: dtype, format: .channelsLast)
        try convert(to: .channelsLast)
        if dtype != .float32 { try convert(to: dtype) }
    }
}

extension EfficientNetLite: Backbone {
    public var bodyGroups: [[Module]] {
        [[stem.conv, stem.bn] + blocks[..<splitBlock].map { $0 as Module },
         blocks[splitBlock...].map { $0 as Module } + [head.conv, head.bn]]
    }
}

extension ResNet: Backbone {
    public var bodyGroups: [[Module]] {
        [[stem.conv, stem.bn, layers[0], layers[1]], [layers[2], layers[3]]]
    }
}

/// The architectures Quadrat can train, with what a learner needs to know about each
/// (fastai's `model_meta`): input size, normalisation, feature width, pretrained weights.
public enum Architecture: String, CaseIterable, Codable, Sendable {
    case efficientNetLite0 = "efficientnet-lite0"
    case efficientNetLite1 = "efficientnet-lite1"
    case efficientNetLite2 = "efficientnet-lite2"
    case resNet18 = "resnet18"
    case resNet34 = "resnet34"
    case resNet50 = "resnet50"

    /// The input size the pretrained weights were trained at.
    public var defaultSize: Int {
        liteVariant?.defaultSize ?? 224
    }

    public var normalization: Normalization {
        liteVariant == nil ? .imageNet : .tfLite
    }

    /// Channels of the body's output.
    public var featureWidth: Int {
        switch self {
        case .resNet50: 2048
        case .resNet18, .resNet34: 512
        default: 1280
        }
    }

    /// The checkpoint file set-up puts in `$QUADRAT_HOME/weights` (nil: the user supplies one).
    public var bundledWeightsFile: String? {
        switch self {
        case .efficientNetLite0: "efficientnet-lite0-57934424.pth"
        case .efficientNetLite1: "efficientnet-lite1-77cc7160.pth"
        case .efficientNetLite2: "efficientnet-lite2-9656183e.pth"
        default: nil
        }
    }

    var liteVariant: EfficientNetLite.Variant? {
        switch self {
        case .efficientNetLite0: .lite0
        case .efficientNetLite1: .lite1
        case .efficientNetLite2: .lite2
        default: nil
        }
    }

    var resNetDepth: ResNet.Depth? {
        switch self {
        case .resNet18: .resnet18
        case .resNet34: .resnet34
        case .resNet50: .resnet50
        default: nil
        }
    }

    /// Parses a name, with a message listing the known ones.
    public init(named name: String) throws {
        guard let arch = Architecture(rawValue: name.lowercased()) else {
            throw VisionError("unknown architecture '\(name)'; expected one of: \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = arch
    }

    /// A fresh network: the body only (`classes == nil`) or with the original classifier layer.
    /// `dropConnect` is EfficientNet-Lite's stochastic-depth rate (0.2 in the reference; lower trains faster on few epochs).
    public func makeNetwork(classes: Int?, dropConnect: Double = 0.2) throws -> Backbone {
        if let variant = liteVariant { return try EfficientNetLite(variant, classes: classes, dropConnect: dropConnect) }
        if let depth = resNetDepth { return try ResNet(depth, classes: classes) }
        throw VisionError("no network for \(rawValue)")
    }

    /// The pretrained checkpoint: `file` if given, else the bundled one from the set-up cache.
    public func weightsURL(_ file: URL? = nil) throws -> URL {
        if let file {
            guard FileManager.default.fileExists(atPath: file.path) else { throw VisionError("weights file \(file.path) does not exist") }
            return file
        }
        guard let name = bundledWeightsFile else {
            throw VisionError("\(rawValue) has no bundled ImageNet weights: pass a torchvision checkpoint with --weights FILE")
        }
        let url = QuadratPaths.weights.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw VisionError("pretrained weights for \(rawValue) not found at \(url.path): run `make setup` (or scripts/setup.sh weights)")
        }
        return url
    }

    /// The ImageNet network with its pretrained weights (for `quadrat classify`).
    public func pretrainedImageNetNetwork(weights: URL? = nil) throws -> Backbone {
        let network = try makeNetwork(classes: 1000)
        try network.load(Checkpoint.load(weightsURL(weights)))
        return network
    }
}

/// Where Quadrat keeps set-up assets and caches: `$QUADRAT_HOME`, default `~/.cache/quadrat`.
public enum QuadratPaths {
    public static var home: URL {
        if let home = ProcessInfo.processInfo.environment["QUADRAT_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/quadrat")
    }

    public static var weights: URL { home.appendingPathComponent("weights") }
    public static var elpv: URL { home.appendingPathComponent("data/elpv") }
}

/// A problem with images, data or models that a user can act on.
public struct VisionError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
