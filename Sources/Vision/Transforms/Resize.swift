import Torch

/// Resizing and cropping of C×H×W (or N×C×H×W) float images.
public enum Resize {
    /// Scales so the shorter side becomes `side`, keeping the aspect ratio, with antialiasing
    /// (matches `F.interpolate(mode="bilinear", antialias=True)`).
    public static func shorterSide(_ image: Tensor, to side: Int) throws -> Tensor {
        let batched = image.rank == 3 ? try image.unsqueezed(0) : image
        let h = batched.shape[2], w = batched.shape[3]
        let scale = Double(side) / Double(min(h, w))
        let size =
            h <= w
            ? (side, max(1, Int((Double(w) * scale).rounded()))) : (max(1, Int((Double(h) * scale).rounded())), side)
        let out = (h, w) == size ? batched : try Functional.interpolateBilinear(batched, size: size, antialias: true)
        return image.rank == 3 ? try out.squeezed(0) : out
    }

    /// The central `size`×`size` square.
    public static func centerCrop(_ image: Tensor, size: Int) throws -> Tensor {
        let r = image.rank
        let h = image.shape[r - 2], w = image.shape[r - 1]
        guard h >= size, w >= size else { throw VisionError("cannot crop \(size)×\(size) from a \(w)×\(h) image") }
        return try image.narrowed(dim: r - 2, ((h - size) / 2)..<((h - size) / 2 + size))
            .narrowed(dim: r - 1, ((w - size) / 2)..<((w - size) / 2 + size))
    }

    /// The evaluation view of a photo for a model of input `size`: shorter side to size / 0.875,
    /// then the central square (the usual ImageNet evaluation crop).
    public static func evaluationView(_ image: RGBImage, size: Int) throws -> Tensor {
        let resized = try shorterSide(image.tensor(), to: Int((Double(size) / 0.875).rounded()))
        return try centerCrop(resized, size: size)
    }
}
