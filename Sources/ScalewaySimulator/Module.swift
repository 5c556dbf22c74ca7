// Module ScalewaySimulator: implementation in progress on its feature branch.
