print("lunar-cli")
