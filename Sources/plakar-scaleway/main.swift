print("plakar-scaleway: not yet built")
