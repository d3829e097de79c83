import ArgumentParser
import Foundation

/// An ArgumentParser property whose parsed value can be read without knowing its type.
protocol GivenArgument {
    /// The value given on the command line, unwrapped; nil when the flag was not given.
    var givenValue: Any? { get }
}

/// An `@OptionGroup`, whose members are read as if they were declared in place.
protocol GivenArgumentGroup {
    var members: Any { get }
}

extension Option: GivenArgument {
    var givenValue: Any? { GivenArguments.unwrapped(wrappedValue) }
}

extension Flag: GivenArgument {
    /// A plain on/off flag counts as given only when on; a `--x/--no-x` pair (`Bool?`) when either was typed.
    var givenValue: Any? {
        if Value.self == Bool.self, (wrappedValue as? Bool) == false { return nil }
        return GivenArguments.unwrapped(wrappedValue)
    }
}

extension OptionGroup: GivenArgumentGroup {
    var members: Any { wrappedValue }
}

/// Reads a command's parsed properties by name: the flags of `train` are a table of options this way.
enum GivenArguments {
    /// The properties of `arguments` (its option groups' members included) that were given, by property name.
    static func values(of arguments: Any) -> [(name: String, value: Any)] {
        Mirror(reflecting: arguments).children.flatMap { child -> [(name: String, value: Any)] in
            if let group = child.value as? GivenArgumentGroup { return values(of: group.members) }
            guard let label = child.label, let argument = child.value as? GivenArgument,
                let value = argument.givenValue
            else { return [] }
            // A property wrapper's storage is `_name`.
            return [(label.hasPrefix("_") ? String(label.dropFirst()) : label, value)]
        }
    }

    /// The option group of type `T` in `command`, in a group of its own or inside another (train's flags hold
    /// `--max-pixels`): how `main` finds the groups it applies for whatever command it parsed.
    static func group<T>(_ type: T.Type, in command: Any) -> T? {
        for child in Mirror(reflecting: command).children {
            guard let group = child.value as? GivenArgumentGroup else { continue }
            if let found = group.members as? T { return found }
            if let inner = Self.group(type, in: group.members) { return inner }
        }
        return nil
    }

    /// `value` as a JSON value (a number, a string, a list…), the way the options encode it.
    static func json(_ value: Any) throws -> Any {
        guard let encodable = value as? any Encodable else {
            throw ValidationError("internal: a flag's value of type \(type(of: value)) cannot be written as an option")
        }
        let data = try JSONEncoder().encode(encodable)
        return try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)
    }

    /// `value` with its optional wrappers removed; nil for none.
    static func unwrapped(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        guard let wrapped = mirror.children.first else { return nil }
        return unwrapped(wrapped.value)
    }
}

/// Names typed as one comma-separated argument ("healthy, invasive"), written as a list.
struct NameList: ExpressibleByArgument, Encodable {
    let names: [String]

    init?(argument: String) {
        names = argument.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(names)
    }
}
