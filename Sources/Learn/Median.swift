extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); 0 for no values.
    public var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = sorted(), middle = count / 2
        return count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
