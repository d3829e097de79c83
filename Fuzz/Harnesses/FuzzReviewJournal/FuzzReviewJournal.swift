import Foundation
import Workflow

/// libFuzzer entry: a review journal as `quadrat review` reads it back (JSON lines, the last one possibly cut
/// short). A `WorkflowError` naming the line is fine; a trap, or keeping more bytes than were given, is not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzReviewJournal(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    do {
        let (decisions, kept) = try ReviewJournal.parse(bytes, source: URL(fileURLWithPath: "review.journal.jsonl"))
        if kept > count || decisions.count > count { fatalError("kept \(kept) of \(count) bytes") }
    } catch is WorkflowError {
    } catch {
        fatalError("an error that is not a WorkflowError: \(error)")
    }
    return 0
}
