// Module ScalewayKit: implementation in progress on its feature branch.
