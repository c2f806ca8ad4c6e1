//go:build !unix

package bolt_test

// processCPU is not measured on this system.
func processCPU() float64 { return 0 }
