import ArgumentParser
import Foundation
import Serve

extension ServeOptions {
    /// Takes the bearer token given (else `$QUADRAT_TOKEN`) and checks every option, as a usage error naming the
    /// flag: what `serve` and `review` do before they start.
    mutating func settle(token given: String?) throws {
        token = given ?? ProcessInfo.processInfo.environment["QUADRAT_TOKEN"]
        do {
            try validate()
        } catch {
            throw ValidationError("\(error)")
        }
    }
}
