// Module QCOW2: implementation in progress on its feature branch.
