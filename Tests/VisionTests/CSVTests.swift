import Foundation
import TestSupport
import Testing
import Vision

/// The CSV reader against RFC 4180 and the files spreadsheets write.
@Suite("CSV")
struct CSVTests {
    func table(_ text: String) throws -> CSVTable {
        try CSVTable(data: Data(text.utf8), source: URL(fileURLWithPath: "/data/labels.csv"))
    }

    @Test func quotedFieldsHoldSeparatorsQuotesAndLineBreaks() throws {
        let csv = try table("name,label\n\"a, b.jpg\",1\n\"say \"\"hi\"\".jpg\",0\n\"two\nlines.jpg\",1\nlast.jpg,0\n")
        #expect(csv.header == ["name", "label"])
        #expect(
            csv.rows.map(\.fields) == [
                ["a, b.jpg", "1"], ["say \"hi\".jpg", "0"], ["two\nlines.jpg", "1"],
                ["last.jpg", "0"],
            ])
        // Line numbers are where each record starts: the quoted line break moves the last one down.
        #expect(csv.rows.map(\.line) == [2, 3, 4, 6])
    }

    @Test func everyRowWrittenReadsBack() throws {
        let fields = [["plain", "with,comma"], ["\"quoted\"", "multi\r\nline"], ["", "trailing space "]]
        let text = "a,b\n" + fields.map(CSVTable.row).joined(separator: "\n") + "\n"
        let expected = fields.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
        #expect(try table(text).rows.map(\.fields) == expected)
    }

    @Test func aCombiningMarkAfterASeparatorDoesNotHideIt() throws {
        // Found by the CSV fuzzer: ",\u{0315}" is one Swift Character, so a parser reading characters saw no comma.
        let csv = try table("a,b,c\nx,\u{0315}y,z\n")
        #expect(csv.rows.map(\.fields) == [["x", "\u{0315}y", "z"]])
        let text = "a,b\n" + CSVTable.row(["\u{0315}", "\r"]) + "\n"
        #expect(try table(text).rows.map(\.fields) == [["\u{0315}", "\r"]])
        // And the writer quotes such a comma (found by the fuzzer too).
        let written = "a,b\n" + CSVTable.row(["|,\u{0613}l"]) + "\n"
        #expect(try table(written).rows.map(\.fields) == [["|,\u{0613}l"]])
        // A quote followed by a combining mark is doubled like any other (the fuzzer again).
        let quote = "a,b\n" + CSVTable.row(["x\"\u{0315}y", "z"]) + "\n"
        #expect(try table(quote).rows.map(\.fields) == [["x\"\u{0315}y", "z"]])
    }

    @Test func spreadsheetExportsRead() throws {
        // Excel: a byte-order mark, semicolons, CRLF line ends and blank lines.
        let csv = try table("\u{FEFF}id;species\r\n\r\nx;cat\r\ny;dog\r\n")
        #expect(csv.header == ["id", "species"])
        #expect(csv.rows.map(\.fields) == [["x", "cat"], ["y", "dog"]])
        #expect(csv.rows.map(\.line) == [3, 4])
        let spaced = try table("file label\n a.jpg  1\n\tb.jpg 0\n")
        #expect(spaced.rows.map(\.fields) == [["a.jpg", "1"], ["b.jpg", "0"]])
    }

    @Test func badInputNamesTheFile() throws {
        for bytes in [Data(), Data(" \n\n".utf8), Data([0x66, 0xFF, 0xFE, 0x0A])] {
            do {
                _ = try CSVTable(data: bytes, source: URL(fileURLWithPath: "/data/labels.csv"))
                Issue.record("\(Array(bytes)) was accepted")
            } catch {
                #expect("\(error)".contains("/data/labels.csv"))
            }
        }
    }

    /// Extensions are removed by hand: NSString's path functions trapped on a field of slashes and dots (FuzzCSV).
    @Test func extensionsAreRemovedWithoutFoundationsPathFunctions() throws {
        #expect(DataSource.removingExtension("12.jpg") == "12" && DataSource.removingExtension("a.b/c") == "a.b/c")
        #expect(DataSource.removingExtension(".hidden") == ".hidden" && DataSource.removingExtension("x") == "x")
        let odd = String(repeating: "/", count: 32) + "." + String(repeating: "/", count: 60)
        #expect(DataSource.removingExtension(odd) == odd)
        let root = Fixtures.folder.deletingLastPathComponent().deletingLastPathComponent()
        let bytes = try Data(contentsOf: root.appendingPathComponent("Fuzz/Corpus/csv/slashes-and-dots.csv"))
        let table = try CSVTable(data: bytes, source: URL(fileURLWithPath: "/x.csv"))
        if table.header.count >= 2 {
            try? DataSource.checkHeaderAndColumns(
                table, csv: URL(fileURLWithPath: "/x.csv"), files: [:], name: 0, label: 1, chosen: nil)
        }
    }
}
