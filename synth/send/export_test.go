package send

import "io"

// Bar is bar, for the progress test.
var Bar = bar

// Progress draws on out what Write draws for a world of total units of which n are sent in one
// phase, as a terminal (tty) or a log would show it.
func Progress(out io.Writer, total int64, tty bool, phase string, n int) {
	p := newProgress(out, total, tty, 0)
	p.phase(phase)
	p.add(n)
	p.finish()
}
