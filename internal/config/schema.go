package config

import (
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

var (
	configType   = reflect.TypeOf(Config{})
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(Secret{})
)

// typeAt follows a key path through the Config type, so that errors can say
// what a key should hold. ok is false when a component is not a known key;
// then failedAt is the index of that component.
func typeAt(path string) (t reflect.Type, failedAt int, ok bool) {
	t = configType
	for i, part := range splitPath(path) {
		t = deref(t)
		switch t.Kind() {
		case reflect.Struct:
			f, found := fieldByTag(t, part.name)
			if !found {
				return nil, i, false
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil, i, false
		}
		if part.indexed {
			t = deref(t)
			if t.Kind() != reflect.Slice {
				return nil, i, false
			}
			t = t.Elem()
		}
	}
	return t, 0, true
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := tomlName(f); tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" {
		return ""
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

// keysAt lists the keys allowed in the table at path ("" for the top level),
// in declaration order.
func keysAt(path string) []string {
	t := configType
	if path != "" {
		var ok bool
		t, _, ok = typeAt(path)
		if !ok {
			return nil
		}
	}
	t = deref(t)
	if t.Kind() == reflect.Slice {
		t = deref(t.Elem())
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if name := tomlName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// describeType says what a person should write for a Go type.
func describeType(t reflect.Type) string {
	switch t {
	case durationType:
		return `a duration string like "5m"`
	case secretType:
		return `a secret reference string like "env:NAME"`
	}
	t = deref(t)
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Map:
		return "a table of strings"
	case reflect.Struct:
		return "a table"
	case reflect.Slice:
		if e := deref(t.Elem()); e.Kind() == reflect.Struct {
			return "a list of tables"
		}
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	}
	return t.String()
}

// describeKind names a TOML value kind for an error message.
func describeKind(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a number"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "a list"
	case unstable.InlineTable, unstable.Table:
		return "a table"
	case unstable.ArrayTable:
		return "an array of tables"
	case unstable.LocalDate, unstable.LocalDateTime, unstable.LocalTime, unstable.DateTime:
		return "a date or time"
	}
	return "a value"
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
