package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// ErrInvalid is wrapped by every error about the content of a plan.
var ErrInvalid = errors.New("config: invalid plan")

// FieldError is a problem with one field of a plan.
type FieldError struct {
	File string // the plan file, when read from one
	Line int    // 1-based; 0 when unknown
	Path string // field path: spec.workloads[1].replicas.max
	Msg  string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(":")
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(":")
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// FieldErrors lists the problems found in one plan, in file order.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the individual errors (for errors.Is and errors.As).
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// LoadFile reads, decodes strictly, defaults and validates the plan in path.
// Errors about the content wrap ErrInvalid and name the file, the line and
// the field; an unreadable file is returned as the os error.
func LoadFile(path string) (*Plan, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Load(path, b)
}

// Load decodes a plan strictly, applies the defaults and validates it. file
// names the source in error messages (it may be empty).
func Load(file string, data []byte) (*Plan, error) {
	p, err := Decode(file, data)
	if err != nil {
		return nil, err
	}
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// Decode decodes a plan strictly, without defaults or validation: unknown
// fields, duplicate keys, values of the wrong type, bad durations and bad
// quantities are errors naming the field and its line.
func Decode(file string, data []byte) (*Plan, error) {
	var p Plan
	lines, err := DecodeStrict(file, data, &p)
	if err != nil {
		return nil, err
	}
	p.file = file
	p.lines = lines
	return &p, nil
}

// Lines maps the field paths of a decoded document (spec.workloads[1].replicas.max)
// to their 1-based lines.
type Lines map[string]int

// Line returns the line of a field path, or of its nearest parent that
// appears in the document; 0 when unknown.
func (l Lines) Line(path string) int {
	for path != "" {
		if n, ok := l[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// DecodeStrict decodes one YAML document into out, a pointer to a struct
// with JSON tags (as sigs.k8s.io/yaml reads them), strictly: unknown fields
// (with a suggestion), duplicate keys, values of the wrong type, bad
// durations (Duration), bad quantities (resource.Quantity), more than one
// document and runaway alias expansion are errors. Errors are FieldErrors
// (or one *FieldError) wrapping ErrInvalid and naming file (when not
// empty), the line and the field path. It returns the line of every field
// path in the document.
func DecodeStrict(file string, data []byte, out any) (Lines, error) {
	t := reflect.TypeOf(out)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("config: DecodeStrict needs a pointer, got %T", out)
	}
	var doc yaml3.Node
	dec := yaml3.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, &FieldError{File: file, Line: yamlErrLine(err), Msg: "not a YAML document: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml3.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FieldError{File: file, Line: extra.Line, Msg: "more than one YAML document; the file holds one"}
	}
	w := walker{file: file, lines: map[string]int{}, limit: 10*countNodes(&doc) + 10_000}
	root := &doc
	if root.Kind == yaml3.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	w.walk(root, t.Elem(), "")
	if len(w.errs) > 0 {
		return nil, w.errs
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		// The walk catches what strict decoding rejects; this is a safety net.
		fe := &FieldError{File: file, Msg: strings.TrimPrefix(err.Error(), "error unmarshaling JSON: while decoding JSON: ")}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fe.Path = te.Field
			fe.Line = w.lineOfUnindexed(te.Field)
		}
		return nil, fe
	}
	return Lines(w.lines), nil
}

var lineRE = "line "

// yamlErrLine extracts "line N" from a yaml error message.
func yamlErrLine(err error) int {
	s := err.Error()
	i := strings.Index(s, lineRE)
	if i < 0 {
		return 0
	}
	s = s[i+len(lineRE):]
	j := 0
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[:j])
	return n
}

// walker checks a YAML node tree against the Go types, recording the line of
// every field path.
type walker struct {
	file   string
	lines  map[string]int
	errs   FieldErrors
	visits int
	limit  int
}

// countNodes counts a document's own nodes, not following aliases. The walk
// is bounded to ten times that plus 10,000 nodes, counting alias expansions,
// so that a document of aliases referring to aliases cannot take unbounded
// time.
func countNodes(n *yaml3.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

var (
	unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
	quantityType    = reflect.TypeOf(resource.Quantity{})
	durationType    = reflect.TypeOf(Duration{})
	leadTimeType    = reflect.TypeOf(LeadTime{})
	retentionType   = reflect.TypeOf(Retention{})
)

func (w *walker) fail(n *yaml3.Node, path, format string, args ...any) {
	w.errs = append(w.errs, &FieldError{File: w.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func kindName(n *yaml3.Node) string {
	switch n.Kind {
	case yaml3.MappingNode:
		return "a mapping"
	case yaml3.SequenceNode:
		return "a list"
	case yaml3.ScalarNode:
		if n.Tag == "!!str" {
			return fmt.Sprintf("the string %q", n.Value)
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a YAML node"
}

func (w *walker) walk(n *yaml3.Node, t reflect.Type, path string) {
	w.visits++
	if w.visits == w.limit {
		w.fail(n, path, "the document expands to more than %d nodes (aliases of aliases?)", w.limit)
	}
	if w.visits >= w.limit {
		return
	}
	for n.Kind == yaml3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if _, seen := w.lines[path]; !seen && path != "" {
		w.lines[path] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml3.ScalarNode && n.Tag == "!!null" {
		return // null leaves the field at its zero value
	}
	switch {
	case t == quantityType:
		if n.Kind != yaml3.ScalarNode {
			w.fail(n, path, "want a quantity such as 500m, 2 or 512Mi, got %s", kindName(n))
		} else if _, err := resource.ParseQuantity(n.Value); err != nil {
			w.fail(n, path, "%q is not a quantity (such as 500m, 2 or 512Mi)", n.Value)
		}
		return
	case t == durationType:
		if n.Kind != yaml3.ScalarNode {
			w.fail(n, path, "want a duration such as 5m or 35d, got %s", kindName(n))
		} else if _, err := ParseDuration(n.Value); err != nil {
			w.fail(n, path, "%v", err)
		}
		return
	case t == leadTimeType:
		if n.Kind != yaml3.ScalarNode {
			w.fail(n, path, "want a duration such as 2m, or auto, got %s", kindName(n))
		} else if _, err := ParseDuration(n.Value); err != nil && strings.TrimSpace(n.Value) != "auto" {
			w.fail(n, path, "%v, or auto", err)
		}
		return
	case t == retentionType && n.Kind == yaml3.ScalarNode:
		// The scalar form, retention: 35d.
		if _, err := ParseDuration(n.Value); err != nil {
			w.fail(n, path, "%v", err)
		}
		return
	case t == retentionType:
		if n.Kind != yaml3.MappingNode {
			w.fail(n, path, "want a duration such as 35d or a mapping {raw: 8d, hourly: 400d}, got %s", kindName(n))
			return
		}
		// The mapping form is walked as a struct below.
	case reflect.PointerTo(t).Implements(unmarshalerType):
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml3.MappingNode {
			w.fail(n, path, "want a mapping, got %s", kindName(n))
			return
		}
		fields := jsonFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			name := k.Value
			if name == "<<" && k.Tag == "!!merge" {
				// A merge key: the merged mappings' fields belong here.
				for v.Kind == yaml3.AliasNode && v.Alias != nil {
					v = v.Alias
				}
				merged := []*yaml3.Node{v}
				if v.Kind == yaml3.SequenceNode {
					merged = v.Content
				}
				for _, m := range merged {
					w.walk(m, t, path)
				}
				continue
			}
			fp := join(path, name)
			if seen[name] {
				w.fail(k, fp, "duplicate field %q", name)
				continue
			}
			seen[name] = true
			f, ok := fields[name]
			if !ok {
				msg := fmt.Sprintf("unknown field %q", name)
				if s := suggest(name, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				} else {
					msg += " (fields: " + strings.Join(sortedKeys(fields), ", ") + ")"
				}
				w.fail(k, fp, "%s", msg)
				continue
			}
			w.lines[fp] = k.Line
			w.walk(v, f, fp)
		}
	case reflect.Map:
		if n.Kind != yaml3.MappingNode {
			w.fail(n, path, "want a mapping, got %s", kindName(n))
			return
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			fp := join(path, k.Value)
			if seen[k.Value] {
				w.fail(k, fp, "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			w.lines[fp] = k.Line
			w.walk(n.Content[i+1], t.Elem(), fp)
		}
	case reflect.Slice:
		if n.Kind != yaml3.SequenceNode {
			w.fail(n, path, "want a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		if n.Kind != yaml3.ScalarNode {
			w.fail(n, path, "want a string, got %s", kindName(n))
		}
	case reflect.Bool:
		if n.Kind != yaml3.ScalarNode || n.Tag != "!!bool" {
			w.fail(n, path, "want true or false, got %s", kindName(n))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml3.ScalarNode || n.Tag != "!!int" {
			w.fail(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		if _, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits()); err != nil {
			w.fail(n, path, "%s is out of range", n.Value)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml3.ScalarNode || n.Tag != "!!int" {
			w.fail(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		if _, err := strconv.ParseUint(strings.ReplaceAll(n.Value, "_", ""), 0, t.Bits()); err != nil {
			w.fail(n, path, "%s is out of range (or negative)", n.Value)
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml3.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			w.fail(n, path, "want a number, got %s", kindName(n))
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// jsonFields maps the JSON names of a struct's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	return m
}

func sortedKeys(m map[string]reflect.Type) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns a known field that differs from name only in case, or is
// within two edits of it.
func suggest(name string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	best, bestD := "", 3
	for _, f := range names {
		if strings.EqualFold(f, name) {
			return f
		}
		if d := editDistance(strings.ToLower(f), strings.ToLower(name)); d < bestD {
			best, bestD = f, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineOfUnindexed finds the line of a path given without list indexes
// (as encoding/json reports it): the first match in file order.
func (w *walker) lineOfUnindexed(p string) int {
	best := 0
	for k, l := range w.lines {
		if stripIndexes(k) == p && (best == 0 || l < best) {
			best = l
		}
	}
	return best
}

func stripIndexes(p string) string {
	var b strings.Builder
	depth := 0
	for _, r := range p {
		switch {
		case r == '[':
			depth++
		case r == ']':
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Line returns the line of a field path in the plan file, or of its nearest
// parent that appears there; 0 when unknown.
func (p *Plan) Line(path string) int { return Lines(p.lines).Line(path) }

// File is the file the plan was read from ("" when decoded from bytes without a name).
func (p *Plan) File() string { return p.file }
