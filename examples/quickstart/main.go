package main

// addressEnv names the environment variable holding containerd's socket.
const addressEnv = "STEVEDORE_CONTAINERD_ADDRESS"

func main() {}
