package panes

// Lines is a ring of the most recent output lines.
type Lines struct {
	buf   []string
	start int
	n     int
}

// NewLines returns a ring holding up to capacity lines.
func NewLines(capacity int) *Lines { return &Lines{buf: make([]string, capacity)} }

// Add appends lines, dropping the oldest beyond capacity.
func (l *Lines) Add(lines ...string) {
	for _, s := range lines {
		if l.n < len(l.buf) {
			l.buf[(l.start+l.n)%len(l.buf)] = s
			l.n++
			continue
		}
		l.buf[l.start] = s
		l.start = (l.start + 1) % len(l.buf)
	}
}

// Len is the number of lines held.
func (l *Lines) Len() int { return l.n }

// At returns line i, 0 being the oldest held.
func (l *Lines) At(i int) string { return l.buf[(l.start+i)%len(l.buf)] }
