// A progress bar on stderr: redrawn in place with \r on a terminal, plain
// lines (every tenth and the last) otherwise, so that logs stay readable.
package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

type progress struct {
	w      io.Writer
	label  string
	total  int
	n      int
	tty    bool
	start  time.Time
	shown  int // the last count printed as a line (not a terminal)
	drawn  time.Time
	closed bool
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total, tty: isTerminal(w), start: time.Now(), shown: -1}
	p.draw(true)
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Add counts n more done.
func (p *progress) Add(n int) { p.Set(p.n + n) }

// Set sets how many are done.
func (p *progress) Set(n int) {
	p.n = n
	p.draw(false)
}

// Done draws the final state and ends the line.
func (p *progress) Done() {
	if p.closed {
		return
	}
	p.draw(true)
	if p.tty {
		fmt.Fprintln(p.w)
	}
	p.closed = true
}

func (p *progress) draw(force bool) {
	if p.tty {
		if !force && time.Since(p.drawn) < 50*time.Millisecond && p.n < p.total {
			return
		}
		p.drawn = time.Now()
		const width = 30
		filled := width
		if p.total > 0 {
			filled = min(width, p.n*width/p.total)
		}
		fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d %s ", p.label, strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
			p.n, p.total, time.Since(p.start).Round(100*time.Millisecond))
		return
	}
	step := max(1, p.total/10)
	if p.n == p.shown || (!force && p.n != p.total && p.n-max(p.shown, 0) < step) {
		return
	}
	p.shown = p.n
	fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, p.n, p.total)
}
