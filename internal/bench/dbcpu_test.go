package bench

import (
	"testing"
	"time"
)

func TestProcCPU(t *testing.T) {
	for _, c := range []struct {
		stat string
		want time.Duration
		ok   bool
	}{
		{"1234 (postgres) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0", 3 * time.Second, true},
		// A command name with spaces and parentheses.
		{"99 (postgres: a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0", 30 * time.Millisecond, true},
		{"99 (postgres) S 1 2", 0, false},
		{"garbage", 0, false},
		{"1 (x) S 1 2 3 4 5 6 7 8 9 10 a b", 0, false},
	} {
		got, ok := procCPU(c.stat)
		if got != c.want || ok != c.ok {
			t.Errorf("procCPU(%q) = %v %v, want %v %v", c.stat, got, ok, c.want, c.ok)
		}
	}
	before := map[int]time.Duration{1: time.Second, 2: 2 * time.Second}
	after := map[int]time.Duration{1: 3 * time.Second, 3: time.Second} // 2 ended, 3 began
	if d := dbDelta(before, after); d != 3*time.Second {
		t.Errorf("dbDelta = %v, want 3s", d)
	}
}
