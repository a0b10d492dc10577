// Package bench implements `postbode bench`.
package bench

import (
	"context"
	"io"
)

// Main runs the benchmark.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error { return nil }
