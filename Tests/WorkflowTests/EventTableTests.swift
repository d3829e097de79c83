import Testing
import Workflow

@Suite("The class of a burst")
struct EventTableTests {
    /// With an empty class, one photo decided otherwise makes the event the other class most probable in any photo;
    /// without, two classes go by the decision on the second class's highest probability, more by the highest.
    @Test func eventClassFollowsTheEmptyClassOrTheHighestProbability() {
        let highest = [0.99, 0.6, 0.3]
        let never: ([Double]) -> Int = { _ in -1 }
        #expect(EventTable.eventClass(highest, decisions: [0, 0, 1], emptyClass: 0, decideBinary: never) == 1)
        #expect(EventTable.eventClass(highest, decisions: [0, 0, 2], emptyClass: 0, decideBinary: never) == 1)
        #expect(EventTable.eventClass(highest, decisions: [0, 0], emptyClass: 0, decideBinary: never) == 0)
        #expect(EventTable.eventClass(highest, decisions: [1], emptyClass: 2, decideBinary: never) == 0)
        #expect(EventTable.eventClass(highest, decisions: [0], emptyClass: nil, decideBinary: never) == 0)
        var asked: [Double] = []
        let binary = EventTable.eventClass([0.9, 0.7], decisions: [0], emptyClass: nil) { p in
            asked = p
            return p[1] >= 0.5 ? 1 : 0
        }
        #expect(binary == 1 && asked == [1 - 0.7, 0.7])
    }
}
