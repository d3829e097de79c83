import Foundation
import Vision

extension SavedModel {
    /// What a model file's metadata says, every field checked before anything is built from it: a crafted or
    /// damaged file is refused once, naming the file and the field (a negative input size trapped; a presize of 0
    /// failed photo by photo). Fuzzed (Fuzz/Harnesses/FuzzModelMetadata).
    public struct Header: Sendable {
        public var architecture: Architecture
        public var classes: [String]
        public var size: Int
        public var presize: Int
        public var normalization: Normalization
        public var head: HeadKind
        /// Models in the file: 1, or an ensemble's K.
        public var members: Int
        public var resize: ResizeMethod
        public var classNames: [String]
        /// Single-label unless the file says multi-label.
        public var task: TaskKind

        public init(_ metadata: [String: String], source url: URL) throws {
            func field<T: Decodable>(_ key: String, _ type: T.Type) throws -> T {
                guard let text = metadata[key] else {
                    throw LearnError("\(url.path) lacks a '\(key)' entry in its metadata")
                }
                do {
                    return try JSONDecoder().decode(T.self, from: Data(text.utf8))
                } catch {
                    throw LearnError("\(url.path): the '\(key)' entry of its metadata cannot be read: \(error)")
                }
            }
            guard let archName = metadata["arch"], let size = metadata["size"].flatMap(Int.init) else {
                throw LearnError("\(url.path) lacks the architecture or input size in its metadata")
            }
            // What training can write; anything else is a damaged or crafted file.
            guard (32...1024).contains(size) else {
                throw LearnError(
                    "\(url.path): its metadata gives an input size of \(size) px; models are 32 to 1024 px")
            }
            do {
                architecture = try Architecture(named: archName)
            } catch {
                throw LearnError("\(url.path): its metadata names \(error)")
            }
            classes = try field("classes", [String].self)
            guard classes.count >= 2, classes.count <= 100_000, Set(classes).count == classes.count,
                !classes.contains("")
            else {
                throw LearnError(
                    "\(url.path): its metadata lists \(classes.count) classes \(classes.prefix(5)); a model needs two "
                        + "or more distinct names")
            }
            normalization = try field("normalization", Normalization.self)
            guard normalization.mean.count == 3, normalization.std.count == 3,
                normalization.std.allSatisfy({ $0.isFinite && $0 > 0 }), normalization.mean.allSatisfy(\.isFinite)
            else {
                throw LearnError("\(url.path): its metadata gives a normalisation that is not 3 means and 3 stds > 0")
            }
            head = try field("head", HeadKind.self)
            self.size = size
            // Absent in files from before the entry: the default. Present but unreadable: refused, not guessed.
            presize =
                try metadata["presize"].map { text in
                    guard let value = Int(text) else {
                        throw LearnError("\(url.path): its metadata gives a presize of '\(text)', not a number")
                    }
                    return value
                } ?? PresizeCache.defaultShorterSide(forSize: size)
            guard (32...4096).contains(presize) else {
                throw LearnError("\(url.path): its metadata gives a presize of \(presize) px; it must be 32 to 4096")
            }
            members = metadata["ensemble"].flatMap(Int.init) ?? 1
            guard (1...100).contains(members) else {
                throw LearnError("\(url.path): its metadata gives an ensemble of \(members) members (1 to 100)")
            }
            resize = try Self.named("resize", "the resize method", in: metadata, source: url) ?? .crop
            task = try Self.named("task", "the task", in: metadata, source: url) ?? .singleLabel
            // An unreadable entry, or names that do not match the classes one for one (a hand-edited file), fall
            // back to the default names.
            let defaults = SavedModel.displayNames(classes: classes, labelColumn: metadata["label_column"])
            let named = metadata["class_names"].flatMap {
                try? JSONDecoder().decode([String].self, from: Data($0.utf8))
            }
            let count = classes.count
            classNames = named.flatMap { $0.count == count ? $0 : nil } ?? defaults
        }

        /// The case of `T` a metadata entry names: nil when absent (a file from before the entry), refused naming
        /// `what` and the cases when it names none.
        static func named<T: RawRepresentable & CaseIterable>(
            _ key: String, _ what: String, in metadata: [String: String], source url: URL
        ) throws -> T? where T.RawValue == String {
            guard let text = metadata[key] else { return nil }
            guard let value = T(rawValue: text) else {
                throw LearnError(
                    "\(url.path): its metadata gives \(what) '\(text)', not "
                        + T.allCases.map(\.rawValue).joined(separator: ", "))
            }
            return value
        }
    }
}
