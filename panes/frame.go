package panes

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/flightdeckhq/flightdeck/internal/theme"
)

// Fit truncates s to exactly w cells, padding with spaces. s may hold ANSI
// codes; width is measured in terminal cells, never bytes.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// Trunc truncates s to at most w cells without padding.
func Trunc(s string, w int) string {
	if w <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// Frame draws a rounded box of exactly width×height cells around body,
// with the title set into the top border. Body lines beyond the inner height
// are dropped; missing lines are blank. A box needs at least 2×2 cells.
func Frame(title string, focused bool, body []string, width, height int, th theme.Theme) string {
	if width < 2 || height < 2 {
		return ""
	}
	inner := width - 2
	border, titlePaint := th.Border, th.Title
	if focused {
		border, titlePaint = th.BorderFocus, th.TitleFocus
	}
	var b strings.Builder
	b.Grow((width + 16) * height)

	if inner < 3 {
		b.WriteString(border.S("╭" + strings.Repeat("─", inner) + "╮"))
	} else {
		t := Trunc(" "+title+" ", inner-1)
		tw := ansi.StringWidth(t)
		b.WriteString(border.S("╭─"))
		b.WriteString(titlePaint.S(t))
		if rest := inner - 1 - tw; rest > 0 {
			b.WriteString(border.S(strings.Repeat("─", rest)))
		}
		b.WriteString(border.S("╮"))
	}

	side := border.S("│")
	for i := 0; i < height-2; i++ {
		b.WriteByte('\n')
		b.WriteString(side)
		if i < len(body) {
			b.WriteString(Fit(body[i], inner))
		} else {
			b.WriteString(strings.Repeat(" ", inner))
		}
		b.WriteString(side)
	}
	b.WriteByte('\n')
	b.WriteString(border.S("╰" + strings.Repeat("─", inner) + "╯"))
	return b.String()
}

// Wrap breaks plain text into lines of at most w cells at spaces.
func Wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			switch {
			case line == "":
				line = word
			case ansi.StringWidth(line)+1+ansi.StringWidth(word) <= w:
				line += " " + word
			default:
				out = append(out, line)
				line = word
			}
			for ansi.StringWidth(line) > w {
				out = append(out, ansi.Cut(line, 0, w))
				line = ansi.Cut(line, w, ansi.StringWidth(line))
			}
		}
		out = append(out, line)
	}
	return out
}
