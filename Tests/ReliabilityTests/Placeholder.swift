// ReliabilityTests: suites land from the reliability branch.
