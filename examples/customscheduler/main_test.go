package main

import "os"

// The GPU instances fill first, the smaller one first (binpack on memory
// breaks the scorer's tie); the instance under maintenance gets nothing
// although it is the largest; then the plain instances, smaller first.
func Example() {
	if err := run(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// task  1 -> i-gpu-small
	// task  2 -> i-gpu-small
	// task  3 -> i-gpu-large
	// task  4 -> i-gpu-large
	// task  5 -> i-gpu-large
	// task  6 -> i-gpu-large
	// task  7 -> i-gpu-large
	// task  8 -> i-gpu-large
	// task  9 -> i-gpu-large
	// task 10 -> i-gpu-large
	// task 11 -> i-plain-small
	// task 12 -> i-plain-large
	// task 13 -> i-plain-large
	// placement: no instance fits task train-big:1: 4 instances: RESOURCE:MEMORY; 1 instance: Maintenance
}
