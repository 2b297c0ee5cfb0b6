package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// entry is where one key (or table header) was written.
type entry struct {
	path string // phase[0].step[2].estimate; tables: phase[0]
	kind unstable.Kind
	// Table and ArrayTable entries point at the '[' of the header; implicit
	// tables (never written as a header) point at the first key that
	// created them.
	keyLine, keyCol int
	valLine, valCol int
	raw             string // raw value text, for scalars
	// Top-level expression holding this key, as byte offsets, so a bad
	// key-value can be blanked out and the rest of the file decoded again.
	// Zero for table headers, which cannot be removed that way.
	exprStart, exprEnd int
	implicit           bool
}

// index maps key paths to positions. go-toml reports decode errors with a
// line, column and an index-free key; the index turns them into the key with
// array indices, and gives semantic checks a position for any key.
type index struct {
	byPath     map[string]*entry
	byOff      map[int]*entry // key and value start offsets
	entries    []*entry       // document order
	lineStarts []int
	data       []byte
	// table is the path of the last table header read: after a syntax
	// error, the table the broken line belongs to.
	table string
}

func buildIndex(data []byte) (*index, error) {
	ix := &index{
		byPath: map[string]*entry{},
		byOff:  map[int]*entry{},
		data:   data,
	}
	ix.lineStarts = append(ix.lineStarts, 0)
	for i, b := range data {
		if b == '\n' {
			ix.lineStarts = append(ix.lineStarts, i+1)
		}
	}

	var p unstable.Parser
	p.Reset(data)
	counts := map[string]int{} // array-of-tables path → elements seen
	table := ""                // path of the current table
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			keys := keyNodes(expr.Key())
			first := int(keys[0].Raw.Offset)
			bracket := first
			for bracket > 0 && data[bracket] != '[' {
				bracket--
			}
			if expr.Kind == unstable.ArrayTable && bracket > 0 && data[bracket-1] == '[' {
				bracket--
			}
			resolved := ""
			for i, k := range keys {
				name := joinKey(resolved, string(k.Data))
				last := i == len(keys)-1
				switch {
				case last && expr.Kind == unstable.ArrayTable:
					n := counts[name]
					counts[name] = n + 1
					name += "[" + strconv.Itoa(n) + "]"
				case !last:
					if n, ok := counts[name]; ok {
						name += "[" + strconv.Itoa(n-1) + "]"
					}
				}
				resolved = name
				if !last {
					ix.implicit(resolved, first)
				}
			}
			e := ix.add(resolved, expr.Kind, bracket, -1)
			if _, taken := ix.byOff[first]; !taken {
				ix.byOff[first] = e
			}
			table = resolved
			ix.table = table
		case unstable.KeyValue:
			ix.keyValue(&p, table, expr, int(expr.Raw.Offset), int(expr.Raw.Offset+expr.Raw.Length))
		}
	}
	// On a syntax error the partial index still locates the broken line.
	return ix, p.Error()
}

func keyNodes(it unstable.Iterator) []*unstable.Node {
	var out []*unstable.Node
	for it.Next() {
		out = append(out, it.Node())
	}
	return out
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// keyValue records a key-value, and the keys nested in its inline tables and
// arrays, under the table prefix.
func (ix *index) keyValue(p *unstable.Parser, prefix string, kv *unstable.Node, exprStart, exprEnd int) {
	keys := keyNodes(kv.Key())
	path := prefix
	for i, k := range keys {
		path = joinKey(path, string(k.Data))
		if i < len(keys)-1 {
			ix.implicit(path, int(keys[0].Raw.Offset))
		}
	}
	keyOff := int(keys[0].Raw.Offset)
	lastKey := keys[len(keys)-1]
	valOff := ix.valueOffset(kv.Value(), int(lastKey.Raw.Offset+lastKey.Raw.Length))
	e := ix.add(path, kv.Value().Kind, keyOff, valOff)
	e.exprStart, e.exprEnd = exprStart, exprEnd
	if k := kv.Value().Kind; k != unstable.Array && k != unstable.InlineTable {
		e.raw = string(p.Raw(kv.Value().Raw))
	}
	ix.value(p, path, kv.Value(), valOff, exprStart, exprEnd)
}

// value records the elements of arrays and inline tables.
func (ix *index) value(p *unstable.Parser, path string, v *unstable.Node, valOff, exprStart, exprEnd int) {
	switch v.Kind {
	case unstable.InlineTable:
		it := v.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				ix.keyValue(p, path, n, exprStart, exprEnd)
			}
		}
	case unstable.Array:
		it := v.Children()
		i := 0
		for it.Next() {
			n := it.Node()
			if n.Kind == unstable.Comment {
				continue
			}
			elemPath := path + "[" + strconv.Itoa(i) + "]"
			i++
			off := valOff
			if n.Kind != unstable.Array {
				off = int(n.Raw.Offset)
			}
			e := ix.add(elemPath, n.Kind, off, off)
			e.exprStart, e.exprEnd = exprStart, exprEnd
			if n.Kind != unstable.Array && n.Kind != unstable.InlineTable {
				e.raw = string(p.Raw(n.Raw))
			}
			ix.value(p, elemPath, n, off, exprStart, exprEnd)
		}
	}
}

// valueOffset finds where a value starts. Arrays carry no range in the AST,
// so for them it is the first non-blank byte after the '=' that follows the
// key.
func (ix *index) valueOffset(v *unstable.Node, keyEnd int) int {
	if v.Kind != unstable.Array {
		return int(v.Raw.Offset)
	}
	i := keyEnd
	for i < len(ix.data) && ix.data[i] != '=' {
		i++
	}
	i++
	for i < len(ix.data) && (ix.data[i] == ' ' || ix.data[i] == '\t') {
		i++
	}
	return i
}

func (ix *index) add(path string, kind unstable.Kind, keyOff, valOff int) *entry {
	e := &entry{path: path, kind: kind}
	e.keyLine, e.keyCol = ix.position(keyOff)
	if valOff >= 0 {
		e.valLine, e.valCol = ix.position(valOff)
		if _, taken := ix.byOff[valOff]; !taken {
			ix.byOff[valOff] = e
		}
	} else {
		e.valLine, e.valCol = e.keyLine, e.keyCol
	}
	// The first entry at an offset wins: a nested array shares its
	// parent's offset and must not hide it.
	if _, taken := ix.byOff[keyOff]; !taken {
		ix.byOff[keyOff] = e
	}
	// The first definition wins, except over a table that was only
	// implied by a longer key before its own header came.
	if old, seen := ix.byPath[path]; !seen || old.implicit {
		ix.byPath[path] = e
	}
	ix.entries = append(ix.entries, e)
	return e
}

// implicit records a table that exists only because a longer key or header
// names it, so it still has a position.
func (ix *index) implicit(path string, off int) {
	if _, ok := ix.byPath[path]; ok {
		return
	}
	e := &entry{path: path, kind: unstable.Table, implicit: true}
	e.keyLine, e.keyCol = ix.position(off)
	e.valLine, e.valCol = e.keyLine, e.keyCol
	ix.byPath[path] = e
}

// position converts a byte offset to a 1-based line and column.
func (ix *index) position(off int) (line, col int) {
	i := sort.Search(len(ix.lineStarts), func(i int) bool { return ix.lineStarts[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	return i + 1, off - ix.lineStarts[i] + 1
}

// offset converts a 1-based line and column to a byte offset.
func (ix *index) offset(line, col int) int {
	if line < 1 || line > len(ix.lineStarts) {
		return -1
	}
	return ix.lineStarts[line-1] + col - 1
}

func (ix *index) has(path string) bool {
	_, ok := ix.byPath[path]
	return ok
}

// keyPos is the position of a key, or of the closest enclosing table that
// was written, so an error about something missing lands on the header of
// the table it is missing from.
func (ix *index) keyPos(path string) (line, col int) {
	for p := path; p != ""; p = parentPath(p) {
		if e, ok := ix.byPath[p]; ok {
			return e.keyLine, e.keyCol
		}
	}
	return 1, 1
}

// valPos is the position of a key's value, falling back like keyPos.
func (ix *index) valPos(path string) (line, col int) {
	if e, ok := ix.byPath[path]; ok {
		return e.valLine, e.valCol
	}
	return ix.keyPos(path)
}

// line is the line of a key or table header; 0 if it was not written.
func (ix *index) line(path string) int {
	if e, ok := ix.byPath[path]; ok {
		return e.keyLine
	}
	return 0
}

// parentPath drops the last component: "a[1].b" → "a[1]" → "a" → "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// pathParts splits "phase[0].step[2].estimate" into names, each flagged if
// it was indexed.
type pathPart struct {
	name    string
	indexed bool
}

func splitPath(p string) []pathPart {
	var out []pathPart
	for _, seg := range strings.Split(p, ".") {
		name, _, indexed := strings.Cut(seg, "[")
		out = append(out, pathPart{name: name, indexed: indexed})
	}
	return out
}
