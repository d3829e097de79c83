// swift-tools-version:6.0
import Foundation
import PackageDescription

// Where libtorch lives. Debian's `libtorch-dev` puts headers under /usr/include
// and libraries on the default search path; a downloaded (newer, or CUDA)
// libtorch is a folder with `include/` and `lib/`: point QUADRAT_LIBTORCH at it.
let libtorchRoot = ProcessInfo.processInfo.environment["QUADRAT_LIBTORCH"]
let torchInclude = libtorchRoot.map { "\($0)/include" } ?? "/usr/include"
// USE_C10D_GLOO and USE_DISTRIBUTED expose c10d's Gloo process group in the headers (libtorch is built with them).
// Debian's libtorch 1.13 builds as C++17; libtorch 2's headers (PyPI's wheel, for CUDA) require C++20.
var torchCxxFlags = [
    "-I\(torchInclude)", "-I\(torchInclude)/torch/csrc/api/include", "-O2", "-DUSE_C10D_GLOO", "-DUSE_DISTRIBUTED",
]
var torchLinkFlags: [String] = []
var torchLibraries = ["torch", "torch_cpu", "c10"]
if let root = libtorchRoot {
    torchLinkFlags += ["-L\(root)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(root)/lib"]
    // A CUDA libtorch (PyPI's wheel) with the CUDA and NCCL headers laid out beside it (scripts/libtorch2.sh):
    // the shim then builds its NCCL process group too.
    let files = FileManager.default
    if files.fileExists(atPath: "\(root)/lib/libtorch_cuda.so"),
        files.fileExists(atPath: "\(root)/cuda/include/cuda_runtime_api.h")
    {
        torchCxxFlags += ["-DQUADRAT_CUDA", "-DUSE_C10D_NCCL", "-I\(root)/cuda/include", "-I\(root)/cuda/include/cccl"]
        torchLibraries += ["torch_cuda", "c10_cuda"]
    }
}
if libtorchRoot == nil { torchCxxFlags.append("-Wno-deprecated-declarations") }
// oneDNN called directly (inference of a model read back, float32, bfloat16 and INT8): Debian's libdnnl-dev, the very
// library Debian's libtorch runs on. A downloaded libtorch carries its own oneDNN inside: the shim then builds without.
if libtorchRoot == nil, FileManager.default.fileExists(atPath: "/usr/include/oneapi/dnnl/dnnl.hpp") {
    torchCxxFlags.append("-DQUADRAT_ONEDNN")
    torchLibraries.append("dnnl")
}

/// A C++ target compiled and linked against libtorch.
@MainActor func libtorchTarget(_ name: String) -> Target {
    .target(
        name: name,
        cxxSettings: [.unsafeFlags(torchCxxFlags)],
        linkerSettings: [
            .unsafeFlags(torchLinkFlags)
        ] + torchLibraries.map { .linkedLibrary($0) }
    )
}

let package = Package(
    name: "Quadrat",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Torch", targets: ["Torch"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Vision", targets: ["Vision"]),
        .library(name: "Learn", targets: ["Learn"]),
        .library(name: "Report", targets: ["Report"]),
        .library(name: "ONNX", targets: ["ONNX"]),
        .library(name: "Workflow", targets: ["Workflow"]),
        .library(name: "Serve", targets: ["Serve"]),
        .executable(name: "quadrat", targets: ["quadrat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        libtorchTarget("CTorch"),
        // The C++ reference loops of `quadrat bench core`, kept out of the production shim.
        libtorchTarget("CTorchBench"),
        .target(name: "Torch", dependencies: ["CTorch"]),
        .target(name: "NN", dependencies: ["Torch"]),
        .systemLibrary(name: "CImageCodecs"),
        .target(name: "Vision", dependencies: ["NN", "CImageCodecs"]),
        .target(name: "Learn", dependencies: ["Vision"]),
        .target(name: "Report", dependencies: ["Learn"]),
        // ONNX export: the messages generated from onnx.proto (committed) and the writer of an InferenceGraph.
        .target(name: "ONNX", dependencies: ["NN", .product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // The jobs a user runs (train, predict, evaluate, interpret…), as a library the CLI calls.
        .target(name: "Workflow", dependencies: ["Report", "ONNX", .product(name: "Yams", package: "Yams")]),
        // `quadrat serve`: the HTTP API, its micro-batching inference queue and the upload page.
        // multipart/form-data, on its own so that its fuzzer builds without the server.
        .target(name: "FormData"),
        .target(
            name: "Serve",
            dependencies: [
                "Workflow", "FormData", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]),
        .executableTarget(
            name: "quadrat",
            dependencies: [
                "Workflow", "Serve", "CTorchBench", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["NN", "Vision"], path: "Tests/TestSupport"),
        .testTarget(name: "TorchTests", dependencies: ["Torch", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "TestSupport"]),
        .testTarget(name: "VisionTests", dependencies: ["Vision", "TestSupport"]),
        .testTarget(name: "LearnTests", dependencies: ["Learn", "TestSupport"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "TestSupport"]),
        .testTarget(name: "WorkflowTests", dependencies: ["Workflow", "ONNX", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Workflow", "TestSupport", "quadrat"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "FormData", "TestSupport"]),
    ],
    cxxLanguageStandard: libtorchRoot == nil ? .cxx17 : .cxx20
)

// libFuzzer harnesses (Fuzz/Harnesses), only when `make fuzz` asks for them: they link only with `-sanitize=fuzzer`.
if ProcessInfo.processInfo.environment["QUADRAT_FUZZ"] != nil {
    let harnesses = [
        "FuzzEXIF": "Vision", "FuzzImage": "Vision", "FuzzCSV": "Vision",
        "FuzzSafetensors": "Torch", "FuzzCheckpoint": "Torch", "FuzzMultipart": "FormData",
        "FuzzModelMetadata": "Learn", "FuzzConfig": "Workflow", "FuzzReviewJournal": "Workflow",
    ]
    package.targets.append(.target(name: "CFuzzDriver", path: "Fuzz/Harnesses/CFuzzDriver"))
    for (name, library) in harnesses.sorted(by: { $0.key < $1.key }) {
        package.targets.append(
            .executableTarget(
                name: name, dependencies: ["CFuzzDriver", .target(name: library)], path: "Fuzz/Harnesses/\(name)"))
    }
}
