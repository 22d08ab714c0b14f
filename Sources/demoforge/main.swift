print("demoforge")
