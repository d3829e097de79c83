import Learn
import Testing

@Suite struct ClassNamesTests {
    /// 0/1 labels of a column that names the positive class read as that class and its negation; a generic column
    /// name or other labels keep the values.
    @Test func zeroOneLabelsAreNamedByTheirColumn() {
        #expect(SavedModel.displayNames(classes: ["0", "1"], labelColumn: "invasive") == ["not invasive", "invasive"])
        #expect(SavedModel.displayNames(classes: ["0", "1"], labelColumn: "Label") == ["0", "1"])
        #expect(SavedModel.displayNames(classes: ["0", "1"], labelColumn: nil) == ["0", "1"])
        #expect(SavedModel.displayNames(classes: ["cat", "dog"], labelColumn: "species") == ["cat", "dog"])
        #expect(SavedModel.displayNames(classes: ["0", "1", "2"], labelColumn: "grade") == ["0", "1", "2"])
    }
}
