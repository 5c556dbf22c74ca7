// QCOW2Tests: suites land from the feature branch that owns this target.
