/// Command-line options shared by the scenarios.
struct BenchOptions: Sendable {
    /// Smaller counts so that every scenario together finishes in well under 3 minutes.
    var quick = false
    /// Print JSON instead of tables.
    var json = false
    /// Serve streams with the pre-fix follower (before/after comparison of the TaskFollower change).
    var legacyFollower = false
    /// sse-fanout stream counts overriding the defaults (`--streams=100,1000`).
    var streams: [Int]? = nil

    /// How many times throughput loops are repeated (the median is reported).
    var runs: Int { quick ? 3 : 5 }
}
