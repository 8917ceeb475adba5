package gen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/atpgo/atp/agent/lex"
	"github.com/bluesky-social/indigo/atproto/lexicon"
	"github.com/bluesky-social/indigo/atproto/syntax"
)

// SchemaError reports a lexicon that cannot be generated: malformed JSON, a
// schema that fails lexicon's CheckSchema, or a reference to a definition
// that does not exist.
type SchemaError struct {
	File string // the lexicon file, relative to the directory loaded
	Def  string // the definition path inside it, such as "main.record.properties.embed"; "" for the file
	Err  error
}

func (e *SchemaError) Error() string {
	if e.Def == "" {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.File, e.Def, e.Err)
}

// Unwrap returns the underlying error.
func (e *SchemaError) Unwrap() error { return e.Err }

// Schema is one parsed and checked lexicon file.
type Schema struct {
	// Path is the file's path relative to the loaded directory.
	Path string
	// ID is the lexicon's NSID.
	ID string
	// Description is the file's top-level description.
	Description string

	defs      []*def                // in file order
	order     map[string][]string   // member order of every JSON object, by JSON path
	subErrors []lexicon.SchemaError // a subscription's errors, which lexicon.SchemaSubscription lacks
}

// def is one named definition of a lexicon.
type def struct {
	schema *Schema
	name   string // "main", "postView"
	inner  any    // a lexicon.Schema* value
}

func (d *def) id() string {
	if d.name == "main" {
		return d.schema.ID
	}
	return d.schema.ID + "#" + d.name
}

// Set is a set of lexicons loaded together, in which every reference
// resolves.
type Set struct {
	schemas []*Schema // sorted by ID
	byID    map[string]*Schema
}

// Schemas returns the lexicons in the set, sorted by NSID.
func (s *Set) Schemas() []*Schema { return slices.Clone(s.schemas) }

// Load reads every .json file under root in fsys, parses and checks it, and
// checks that every reference resolves within the files loaded plus the
// schemas in extra (lexicons other packages are generated from, used to
// resolve references into them). Errors are [*SchemaError]s naming the file
// and the definition; all of them are reported, joined.
func Load(fsys fs.FS, root string, extra ...*Set) (*Set, error) {
	set := &Set{byID: map[string]*Schema{}}
	var errs []error
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") || path.Base(p) == "manifest.json" {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		sc, err := parseSchema(rel, b)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if prev, ok := set.byID[sc.ID]; ok {
			errs = append(errs, &SchemaError{File: rel, Err: fmt.Errorf("lexicon %s is also defined in %s", sc.ID, prev.Path)})
			return nil
		}
		set.byID[sc.ID] = sc
		set.schemas = append(set.schemas, sc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(set.schemas, func(a, b *Schema) int { return strings.Compare(a.ID, b.ID) })
	if len(errs) == 0 {
		r := &resolver{sets: append([]*Set{set}, extra...)}
		for _, sc := range set.schemas {
			errs = append(errs, r.checkRefs(sc)...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return set, nil
}

func parseSchema(rel string, b []byte) (*Schema, error) {
	var sf lexicon.SchemaFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, &SchemaError{File: rel, Err: err}
	}
	if err := sf.FinishParse(); err != nil {
		return nil, &SchemaError{File: rel, Err: err}
	}
	if _, err := syntax.ParseNSID(sf.ID); err != nil {
		return nil, &SchemaError{File: rel, Err: fmt.Errorf("invalid lexicon id %q", sf.ID)}
	}
	order, err := keyOrder(b)
	if err != nil {
		return nil, &SchemaError{File: rel, Err: err}
	}
	sc := &Schema{Path: rel, ID: sf.ID, order: order}
	var raw struct {
		Defs map[string]struct {
			Type   string                `json:"type"`
			Errors []lexicon.SchemaError `json:"errors"`
		} `json:"defs"`
	}
	if err := json.Unmarshal(b, &raw); err == nil && raw.Defs["main"].Type == "subscription" {
		sc.subErrors = raw.Defs["main"].Errors
	}
	if sf.Description != nil {
		sc.Description = *sf.Description
	}
	for _, name := range sc.keys("defs", mapKeys(sf.Defs)) {
		d := sf.Defs[name]
		if err := d.CheckSchema(); err != nil {
			return nil, &SchemaError{File: rel, Def: name, Err: err}
		}
		if d.IsPrimary() && name != "main" {
			return nil, &SchemaError{File: rel, Def: name, Err: errors.New("record, query, procedure and subscription definitions must be named main")}
		}
		if !d.IsDefinable() {
			return nil, &SchemaError{File: rel, Def: name, Err: errors.New("this type cannot be a named definition")}
		}
		if _, ok := d.Inner.(lexicon.SchemaPermission); ok {
			return nil, &SchemaError{File: rel, Def: name, Err: errors.New("permission cannot be a named definition")}
		}
		sc.defs = append(sc.defs, &def{schema: sc, name: name, inner: d.Inner})
	}
	return sc, nil
}

func mapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// keys returns the names in ks in the order they appear in the JSON object
// at jsonPath ("defs", "defs/main/record/properties"), names not found there
// last in sorted order.
func (sc *Schema) keys(jsonPath string, ks []string) []string {
	order := sc.order[jsonPath]
	out := make([]string, 0, len(ks))
	seen := map[string]bool{}
	for _, k := range order {
		if slices.Contains(ks, k) && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	rest := []string{}
	for _, k := range ks {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// keyOrder records the member order of every object in a JSON document,
// keyed by the slash-separated path of member names leading to it.
func keyOrder(b []byte) (map[string][]string, error) {
	out := map[string][]string{}
	d := lex.NewDecoder(b)
	var walk func(p string)
	walk = func(p string) {
		switch d.Peek() {
		case '{':
			d.BeginObject()
			var ks []string
			for d.More() {
				k := string(d.Key())
				ks = append(ks, k)
				walk(strings.TrimPrefix(p+"/"+k, "/"))
			}
			out[p] = ks
		case '[':
			d.BeginArray()
			for i := 0; d.More(); i++ {
				walk(fmt.Sprintf("%s/%d", p, i))
			}
		default:
			d.Skip()
		}
	}
	walk("")
	if err := d.Finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// resolver looks references up across sets.
type resolver struct {
	sets []*Set
}

// resolve returns the definition ref names, relative to sc.
func (r *resolver) resolve(sc *Schema, ref string) (*def, error) {
	full := ref
	if strings.HasPrefix(ref, "#") {
		full = sc.ID + ref
	}
	id, name, ok := strings.Cut(full, "#")
	if !ok {
		name = "main"
	}
	for _, s := range r.sets {
		if s == nil {
			continue
		}
		if target, ok := s.byID[id]; ok {
			for _, d := range target.defs {
				if d.name == name {
					return d, nil
				}
			}
			return nil, fmt.Errorf("reference %q: lexicon %s has no definition %q", ref, id, name)
		}
	}
	return nil, fmt.Errorf("reference %q: lexicon %s is not loaded", ref, id)
}

// checkRefs reports every reference in sc that does not resolve, or that
// resolves to a definition that cannot be used where it is.
func (r *resolver) checkRefs(sc *Schema) []error {
	var errs []error
	for _, d := range sc.defs {
		walkSchema(d.name, d.inner, func(p string, node any) {
			var refs []string
			union := false
			switch n := node.(type) {
			case lexicon.SchemaRef:
				refs = []string{n.Ref}
			case lexicon.SchemaUnion:
				refs, union = n.Refs, true
			default:
				return
			}
			for _, ref := range refs {
				t, err := r.resolve(sc, ref)
				if err != nil {
					errs = append(errs, &SchemaError{File: sc.Path, Def: p, Err: err})
					continue
				}
				switch t.inner.(type) {
				case lexicon.SchemaObject, lexicon.SchemaRecord:
				case lexicon.SchemaString, lexicon.SchemaArray, lexicon.SchemaToken,
					lexicon.SchemaInteger, lexicon.SchemaBoolean, lexicon.SchemaBytes,
					lexicon.SchemaCIDLink, lexicon.SchemaBlob, lexicon.SchemaUnknown:
					if union {
						errs = append(errs, &SchemaError{File: sc.Path, Def: p, Err: fmt.Errorf("union member %q is not an object or record", ref)})
					}
				default:
					errs = append(errs, &SchemaError{File: sc.Path, Def: p, Err: fmt.Errorf("reference %q names a %s, which cannot be used as a type", ref, kindName(t.inner))})
				}
			}
		})
	}
	return errs
}

func kindName(v any) string {
	return strings.ToLower(strings.TrimPrefix(fmt.Sprintf("%T", v), "lexicon.Schema"))
}

// walkSchema calls fn for node and every schema node nested in it, with its
// dotted definition path.
func walkSchema(p string, node any, fn func(p string, node any)) {
	fn(p, node)
	switch n := node.(type) {
	case lexicon.SchemaRecord:
		walkSchema(p+".record", n.Record, fn)
	case lexicon.SchemaQuery:
		walkParams(p, n.Parameters, fn)
		walkBody(p+".output", n.Output, fn)
	case lexicon.SchemaProcedure:
		walkParams(p, n.Parameters, fn)
		walkBody(p+".input", n.Input, fn)
		walkBody(p+".output", n.Output, fn)
	case lexicon.SchemaSubscription:
		walkParams(p, n.Parameters, fn)
		walkSchema(p+".message.schema", n.Message.Schema, fn)
	case lexicon.SchemaObject:
		for _, k := range mapKeys(n.Properties) {
			walkSchema(p+".properties."+k, n.Properties[k].Inner, fn)
		}
	case lexicon.SchemaArray:
		walkSchema(p+".items", n.Items.Inner, fn)
	case lexicon.SchemaParams:
		for _, k := range mapKeys(n.Properties) {
			walkSchema(p+".properties."+k, n.Properties[k].Inner, fn)
		}
	}
}

func walkParams(p string, params *lexicon.SchemaParams, fn func(string, any)) {
	if params != nil {
		walkSchema(p+".parameters", *params, fn)
	}
}

func walkBody(p string, b *lexicon.SchemaBody, fn func(string, any)) {
	if b != nil && b.Schema != nil {
		walkSchema(p+".schema", b.Schema.Inner, fn)
	}
}
