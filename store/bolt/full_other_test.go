//go:build !unix

package bolt_test

import "fmt"

// runChildFull needs RLIMIT_FSIZE, which only Unix systems have.
func runChildFull(string) int {
	fmt.Println("no file size limits on this system")
	return 1
}
