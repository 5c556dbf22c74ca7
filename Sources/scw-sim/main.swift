print("scw-sim: not yet built")
