import Foundation
import Torch

/// A weights file as people share them, told apart by content, not by extension: safetensors (Python's
/// `save_file`, timm, Hugging Face), or a PyTorch checkpoint (`torch.save`, zip or legacy). Keys under a wrapper
/// prefix on every entry (`module.` from DataParallel/DDP, `model.` from training frameworks) lose it, so
/// torchvision's and timm's ResNet names load as they are.
public enum WeightsFile {
    public static let wrapperPrefixes = ["module.", "model.", "_orig_mod."]

    /// The state dict in `url`, keys normalised.
    public static func stateDict(_ url: URL) throws -> [String: Tensor] {
        let state = try isSafetensors(url) ? Safetensors.read(url).tensors : Checkpoint.load(url)
        return normalized(state)
    }

    /// A safetensors file starts with its header's length (little-endian, 8 bytes) and then the header's `{`.
    static func isSafetensors(_ url: URL) throws -> Bool {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw WeightsError(url, "cannot be read")
        }
        defer { try? handle.close() }  // closing a file opened for reading cannot lose data
        let head = [UInt8](handle.readData(ofLength: 9))
        return head.count == 9 && head[8] == UInt8(ascii: "{") && head[4..<8].allSatisfy { $0 == 0 }
    }

    /// `state` with wrapper prefixes removed, as long as every key carries the same one.
    static func normalized(_ state: [String: Tensor]) -> [String: Tensor] {
        var state = state
        while let prefix = wrapperPrefixes.first(where: { p in
            !state.isEmpty && state.keys.allSatisfy { $0.hasPrefix(p) }
        }) {
            state = Dictionary(uniqueKeysWithValues: state.map { (String($0.key.dropFirst(prefix.count)), $0.value) })
        }
        return state
    }
}
