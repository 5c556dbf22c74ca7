// Module ScalewayConnector: implementation in progress on its feature branch.
