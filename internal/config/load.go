package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/flightdeckhq/flightdeck/internal/gates"
)

// LoadOptions adjusts loading, mostly for tests and for `check` commands.
type LoadOptions struct {
	// Getenv reads environment variables for env: secrets and defaults;
	// default os.Getenv.
	Getenv func(string) string
	// SkipSecrets validates secret references without resolving them, so a
	// config can be checked on a machine without the credentials.
	SkipSecrets bool
	// DeferSecretErrors keeps a secret that cannot be resolved from failing
	// the load: the error is kept in Config.SecretErrors under its section,
	// so the cockpit can show that one system as down and still open.
	DeferSecretErrors bool
	// Now is the clock that picks the deploy day for the final check that
	// every template expands; default time.Now.
	Now func() time.Time
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Load reads, decodes, validates and resolves the config at path. On failure
// the error is an Errors listing every problem found, not just the first.
func Load(path string, opts LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		hint := "pass the path of a config file; config.example.toml is a starting point"
		if errors.Is(err, os.ErrPermission) {
			hint = "check the file's permissions"
		}
		return nil, Errors{{File: path, Line: 1, Col: 1, Msg: fmt.Sprintf("cannot read config: %v", unwrapPathError(err)), Hint: hint}}
	}
	return Parse(path, data, opts)
}

// Parse is Load from bytes. name appears in error messages, and its directory
// anchors relative paths (the working directory when name has none).
func Parse(name string, data []byte, opts LoadOptions) (*Config, error) {
	opts = opts.withDefaults()
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	l := &loader{file: name, dir: filepath.Dir(abs), opts: opts, bad: map[string]bool{}}

	ix, err := buildIndex(data)
	if err != nil {
		return nil, l.syntaxError(data, ix, err)
	}
	l.ix = ix

	cfg := l.decode(data)
	if cfg == nil {
		l.errs.sort()
		return nil, l.errs
	}
	cfg.Path = abs
	cfg.pos = ix
	l.cfg = cfg
	l.validate()
	if len(l.errs) == 0 {
		l.checkExpansions()
	}
	l.resolveSecrets()
	if len(l.errs) > 0 {
		l.errs.sort()
		return nil, l.errs
	}
	return cfg, nil
}

type loader struct {
	file string
	dir  string
	opts LoadOptions
	ix   *index
	cfg  *Config
	errs Errors
	// bad holds keys already reported as malformed, so that checks which
	// would only repeat the complaint ("estimate is required") stay quiet.
	bad map[string]bool
}

// syntaxError reports a TOML syntax error. The parser stops at the first one,
// so this is always the only error.
func (l *loader) syntaxError(data []byte, ix *index, err error) error {
	e := &Error{File: l.file, Line: 1, Col: 1, Key: ix.table, Msg: "TOML syntax error: " + err.Error()}
	var perr *unstable.ParserError
	if errors.As(err, &perr) && perr.Highlight != nil {
		if off := cap(data) - cap(perr.Highlight); off >= 0 && off <= len(data) {
			e.Line, e.Col = positionIn(data, off)
		}
	}
	// The parser does not say which key it was reading; the line does.
	if e.Line <= len(ix.lineStarts) {
		text := string(data[ix.lineStarts[e.Line-1]:])
		text, _, _ = strings.Cut(text, "\n")
		if m := headerKey.FindStringSubmatch(text); m != nil {
			e.Key = strings.Join(strings.Fields(m[1]), "")
		} else if m := lineKey.FindStringSubmatch(text); m != nil {
			e.Key = joinKey(ix.table, strings.Join(strings.Fields(m[1]), ""))
		}
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "at start of value"):
		e.Hint = `strings need quotes: write key = "value"`
	case strings.Contains(msg, "expected newline"):
		e.Hint = `one key = value per line: quote strings that contain spaces, use "..." for text with an apostrophe, and start comments with #`
	case strings.Contains(msg, "expected '='"):
		e.Hint = `write key = value`
	case strings.Contains(msg, "cannot have new lines"):
		e.Hint = `close the string on the same line, or use """...""" for text over several lines`
	case strings.Contains(msg, "incomplete"), strings.Contains(msg, "unterminated"), strings.Contains(msg, "to close"):
		e.Hint = "close the string, list or table opened here"
	}
	return Errors{e}
}

var headerKey = regexp.MustCompile(`^\s*\[+\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)`)

var lineKey = regexp.MustCompile(`^\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)`)

func positionIn(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, off - (bytes.LastIndexByte(data[:off], '\n') + 1) + 1
}

// maxDecodeRounds bounds the decode-blank-retry loop; far more than anyone
// will fix in one sitting.
const maxDecodeRounds = 200

// decode runs go-toml in strict mode. go-toml stops at the first type error,
// so each time one is found it is recorded, the offending key-value is
// blanked out (newlines kept, so positions hold) and decoding starts over:
// one run of Load reports every type error and every unknown key. It returns
// nil if decoding could not get past an error.
func (l *loader) decode(data []byte) *Config {
	l.checkUnquotedDurations()
	structural := l.checkSingleHeaders()
	work := bytes.Clone(data)
	for round := 0; round < maxDecodeRounds; round++ {
		var cfg Config
		err := toml.NewDecoder(bytes.NewReader(work)).DisallowUnknownFields().Decode(&cfg)
		var missing *toml.StrictMissingError
		if errors.As(err, &missing) {
			// Strict errors come last, after everything else decoded.
			for i := range missing.Errors {
				l.unknownKey(&missing.Errors[i])
			}
			err = nil
		}
		if err == nil {
			if structural {
				// Paths in the document and the decoded config disagree;
				// checking further would only mislead.
				return nil
			}
			return &cfg
		}
		var de *toml.DecodeError
		if !errors.As(err, &de) {
			l.errs = append(l.errs, &Error{File: l.file, Line: 1, Col: 1, Msg: err.Error()})
			return nil
		}
		e := l.decodeError(de)
		if e == nil || e.exprEnd == 0 {
			return nil
		}
		l.bad[e.path] = true
		// The whole expression goes, so an inline table loses its other
		// keys too: do not report those as missing.
		if top := l.ix.byOff[e.exprStart]; top != nil {
			l.bad[top.path] = true
		}
		for i := e.exprStart; i < e.exprEnd; i++ {
			if work[i] != '\n' && work[i] != '\r' {
				work[i] = ' '
			}
		}
	}
	return nil
}

// decodeError records a go-toml DecodeError and returns the index entry it
// points at, if any.
func (l *loader) decodeError(de *toml.DecodeError) *entry {
	line, col := de.Position()
	msg := strings.TrimPrefix(de.Error(), "toml: ")
	ent := l.ix.byOff[l.ix.offset(line, col)]
	isTable := ent != nil && (ent.kind == unstable.Table || ent.kind == unstable.ArrayTable)
	if isTable && l.bad[ent.path] {
		return ent // checkSingleHeaders said it better
	}
	err := &Error{File: l.file, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: msg}
	l.errs = append(l.errs, err)
	if ent == nil {
		return nil
	}
	err.Key = ent.path
	if isTable {
		err.Line, err.Col = ent.keyLine, ent.keyCol
	}
	switch {
	case strings.Contains(msg, "already defined"), strings.Contains(msg, "already exists"):
		switch {
		case ent.kind == unstable.ArrayTable:
			name := tablePath(ent.path)
			err.Msg = fmt.Sprintf("[[%s]] clashes with a section above", name)
			err.Hint = fmt.Sprintf("a [[%s.…]] section must come after the [[%s]] it belongs to, and [%s] cannot also be written [[%s]]", name, name, name, name)
		case isTable:
			err.Msg = fmt.Sprintf("section [%s] is already defined above", tablePath(ent.path))
			err.Hint = "merge the two sections"
		default:
			err.Msg = "key is already set above"
			err.Hint = "remove one of the two"
		}
		return ent
	case strings.Contains(msg, "cannot store an array table"):
		err.Msg = fmt.Sprintf("[%s] is a single section", tablePath(ent.path))
		err.Hint = fmt.Sprintf("write [%s], not [[%s]]", tablePath(ent.path), tablePath(ent.path))
		return ent
	}
	want, _, ok := typeAt(ent.path)
	if !ok {
		return ent
	}
	if want == durationType && ent.kind == unstable.String {
		err.Msg = fmt.Sprintf("bad duration %s", ent.raw)
		err.Hint = durationHint(unquote(ent.raw))
		return ent
	}
	if !strings.HasPrefix(msg, "cannot decode") {
		return ent
	}
	err.Msg = fmt.Sprintf("expected %s, found %s", describeType(want), describeKind(ent.kind))
	err.Hint = typeHint(ent, want)
	return ent
}

// typeHint shows the fix for a value of the wrong type.
func typeHint(ent *entry, want reflect.Type) string {
	key := lastKey(ent.path)
	w := deref(want)
	switch {
	case w.Kind() == reflect.String && ent.raw != "" && strings.HasSuffix(ent.path, "]"):
		return fmt.Sprintf("quote it: \"%s\"", ent.raw)
	case w.Kind() == reflect.String && ent.raw != "":
		return fmt.Sprintf("quote it: %s = \"%s\"", key, ent.raw)
	case w.Kind() == reflect.Slice && deref(w.Elem()).Kind() == reflect.Struct:
		return fmt.Sprintf("write one [[%s]] section per entry", tablePath(ent.path))
	case w.Kind() == reflect.Slice && ent.kind == unstable.String:
		return fmt.Sprintf("write a list: %s = [%s]", key, ent.raw)
	case w.Kind() == reflect.Bool:
		return fmt.Sprintf("write %s = true or %s = false, without quotes", key, key)
	case w.Kind() == reflect.Int || w.Kind() == reflect.Float64:
		if ent.kind == unstable.String {
			return fmt.Sprintf("remove the quotes: %s = %s", key, unquote(ent.raw))
		}
	}
	return ""
}

// tablePath strips array indices: "jira.move[0]" → "jira.move".
func tablePath(p string) string {
	var parts []string
	for _, pp := range splitPath(p) {
		parts = append(parts, pp.name)
	}
	return strings.Join(parts, ".")
}

func lastKey(p string) string {
	parts := splitPath(p)
	return parts[len(parts)-1].name
}

func unquote(raw string) string {
	if len(raw) >= 2 && (raw[0] == '"' || raw[0] == '\'') && raw[len(raw)-1] == raw[0] {
		return raw[1 : len(raw)-1]
	}
	return raw
}

// unknownKey records a strict-mode error with a did-you-mean hint.
func (l *loader) unknownKey(de *toml.DecodeError) {
	line, col := de.Position()
	err := &Error{File: l.file, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: "unknown key"}
	if ent := l.ix.byOff[l.ix.offset(line, col)]; ent != nil {
		err.Key = ent.path
		if ent.kind == unstable.Table || ent.kind == unstable.ArrayTable {
			err.Msg = "unknown section"
			err.Line, err.Col = ent.keyLine, ent.keyCol
		}
	}
	l.errs = append(l.errs, err)

	// Suggest for the first component that is not a known key, which for
	// a dotted key may not be the last one.
	_, failed, ok := typeAt(err.Key)
	if ok {
		return
	}
	parts := splitPath(err.Key)
	parent := ""
	for _, p := range strings.SplitAfter(err.Key, ".")[:failed] {
		parent += p
	}
	parent = strings.TrimSuffix(parent, ".")
	word := parts[failed].name
	allowed := keysAt(parent)
	if s := gates.Suggest(word, allowed); s != "" {
		err.Hint = fmt.Sprintf("did you mean %q?", s)
		// The typo is the missing key: one error is enough.
		l.bad[joinKey(parent, s)] = true
	} else if len(allowed) > 0 {
		where := "here"
		if parent == "" {
			where = "at the top level"
		}
		err.Hint = fmt.Sprintf("allowed %s: %s", where, strings.Join(allowed, ", "))
	}
}

// checkExpansions expands every command and dsn for the deploy day, so that
// what validation accepted is known to expand when the step runs.
func (l *loader) checkExpansions() {
	vars := l.cfg.TemplateVars(l.opts.Now())
	for i, ph := range l.cfg.Phases {
		for j, s := range ph.Steps {
			if s.Kind != Command {
				continue
			}
			if _, err := Expand(s.Command, vars, true); err != nil {
				l.errVal(fmt.Sprintf("phase[%d].step[%d].command", i, j), err.Error(), "")
			}
		}
	}
	if p := l.cfg.Postgres; p != nil {
		for i, t := range p.Targets {
			if _, err := Expand(t.DSN, vars, false); err != nil {
				l.errVal(fmt.Sprintf("postgres.target[%d].dsn", i), err.Error(), "")
			}
		}
	}
}

// checkSingleHeaders catches [phase] written for [[phase]]. go-toml
// quietly decodes it as one element, but every key path beneath it would
// then be wrong. It reports whether it found one.
func (l *loader) checkSingleHeaders() bool {
	found := false
	for _, e := range l.ix.entries {
		if e.kind != unstable.Table || e.exprEnd != 0 {
			continue
		}
		t, _, ok := typeAt(e.path)
		if !ok || deref(t).Kind() != reflect.Slice {
			continue
		}
		found = true
		name := tablePath(e.path)
		l.bad[e.path] = true
		l.errs = append(l.errs, &Error{
			File: l.file, Line: e.keyLine, Col: e.keyCol, Key: e.path,
			Msg:  fmt.Sprintf("[%s] is a list of sections", name),
			Hint: fmt.Sprintf("write [[%s]], with double brackets", name),
		})
	}
	return found
}

// checkUnquotedDurations catches `estimate = 5`: go-toml would store it as
// 5 nanoseconds without complaint, since Duration is an integer type.
func (l *loader) checkUnquotedDurations() {
	for _, e := range l.ix.entries {
		if e.exprEnd == 0 || (e.kind != unstable.Integer && e.kind != unstable.Float) {
			continue
		}
		if t, _, ok := typeAt(e.path); ok && t == durationType {
			l.bad[e.path] = true
			l.errs = append(l.errs, &Error{
				File: l.file, Line: e.valLine, Col: e.valCol, Key: e.path,
				Msg:  fmt.Sprintf("duration %s has no unit", e.raw),
				Hint: fmt.Sprintf("quote it with a unit, e.g. %s = \"%sm\" or \"%ss\"", lastKey(e.path), e.raw, e.raw),
			})
		}
	}
}
