/// One thing wrong in a configuration file: which key, what is wrong, and what would be right.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The key's path, e.g. `models.fast.deployments[0].provider`; `(top level)` for the document.
    public var path: String
    /// What is wrong, e.g. `expected an integer, got a string`.
    public var problem: String
    /// What would be right, e.g. `a positive integer`.
    public var expected: String

    public init(path: String, problem: String, expected: String) {
        self.path = path
        self.problem = problem
        self.expected = expected
    }

    /// `<path>: <problem> (expected <expected>)`.
    public var description: String { "\(path): \(problem) (expected \(expected))" }
}

/// Every issue found in a configuration, collected in one pass. Never carries a secret value.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var issues: [ConfigIssue]

    public init(issues: [ConfigIssue]) {
        self.issues = issues
    }

    /// One line per issue.
    public var description: String { issues.map(\.description).joined(separator: "\n") }

    /// The issue at `path`, if any (tests and `clawgate check`).
    public func issue(at path: String) -> ConfigIssue? { issues.first { $0.path == path } }
}
