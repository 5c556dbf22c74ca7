print("refhost: not yet built")
