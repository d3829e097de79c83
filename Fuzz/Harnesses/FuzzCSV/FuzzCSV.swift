import Foundation
import Vision

/// libFuzzer entry: the CSV reader (UTF-8 check, separator sniffing, RFC 4180 quoting), the labels CSV's header and
/// column checks, a multi-label CSV's label sets, then the writer:
/// every row written back with `CSVTable.row` must parse to the same fields.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCSV(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: count))
    let source = URL(fileURLWithPath: "/fuzz/labels.csv")
    let table: CSVTable
    do {
        table = try CSVTable(data: bytes, source: source)
    } catch is DataProblem {
        return 0  // not UTF-8, or empty: an error naming the file
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    // The header and column guesses of a labels CSV: an error naming the file, or nothing; never a trap.
    if table.header.count >= 2 {
        let photo = URL(fileURLWithPath: "/fuzz/train/1.jpg")
        do {
            try DataSource.checkHeaderAndColumns(
                table, csv: source, files: ["1": photo, "1.jpg": photo], name: 0, label: 1, chosen: nil)
        } catch is DataProblem {
        } catch {
            preconditionFailure("unexpected error type: \(error)")
        }
    }
    // The tags of a multi-label CSV (`check --task multi-label`): label sets or an error naming the file, never a trap.
    do {
        let photo = URL(fileURLWithPath: "/fuzz/train/1.jpg")
        let sets = try LabelSets.parse(
            table, csv: source, files: ["1": photo, "1.jpg": photo], nameColumn: nil, labelColumn: nil, delimiter: " ")
        precondition(sets.sets.count == sets.items.count, "one label set per photo")
        precondition(sets.sets.allSatisfy { $0.allSatisfy { $0 < sets.vocabulary.count } }, "labels in the vocabulary")
    } catch is DataProblem {
    } catch {
        preconditionFailure("unexpected error type: \(error)")
    }
    for row in table.rows.prefix(4) where !row.fields.contains(where: { $0.contains("\n") || $0.contains("\r") }) {
        let text = "a,b\n" + CSVTable.row(row.fields) + "\n"
        guard let again = try? CSVTable(data: Data(text.utf8), source: source) else {  // must parse: it is our own
            preconditionFailure("a written row does not parse: \(text.debugDescription)")
        }
        precondition(again.rows.first?.fields ?? [""] == row.fields, "round trip changed \(row.fields)")
    }
    return 0
}
