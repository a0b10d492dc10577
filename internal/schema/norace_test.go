//go:build !race

package schema

// slowdown scales time limits in tests: the race detector makes the
// validator several times slower.
const slowdown = 1
