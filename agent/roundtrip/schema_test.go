package roundtrip

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	// Every generated package, so that every record and object is registered.
	_ "github.com/atpgo/atp/agent/atproto"
	_ "github.com/atpgo/atp/agent/bsky"
	_ "github.com/atpgo/atp/agent/chat"
	_ "github.com/atpgo/atp/agent/germnetwork"
	"github.com/atpgo/atp/agent/lex"
	_ "github.com/atpgo/atp/agent/ozone"
	_ "github.com/atpgo/atp/agent/standard"
	"github.com/atpgo/atp/lexicons"
)

// corpus is every lexicon document, by NSID.
type corpus map[string]map[string]any

func loadCorpus(t *testing.T) corpus {
	t.Helper()
	c := corpus{}
	err := fs.WalkDir(lexicons.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") || path == "manifest.json" {
			return err
		}
		b, err := lexicons.FS.ReadFile(path)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return err
		}
		c[doc["id"].(string)] = doc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c) < 300 {
		t.Fatalf("only %d lexicons", len(c))
	}
	return c
}

func (c corpus) def(nsid, name string) map[string]any {
	doc, ok := c[nsid]
	if !ok {
		return nil
	}
	d, _ := doc["defs"].(map[string]any)[name].(map[string]any)
	return d
}

// resolve splits a ref as written in lexicon nsid into NSID and def name.
func resolve(nsid, ref string) (string, string) {
	if strings.HasPrefix(ref, "#") {
		return nsid, ref[1:]
	}
	if n, d, ok := strings.Cut(ref, "#"); ok {
		return n, d
	}
	return ref, "main"
}

// typeName is the $type of a def.
func typeName(nsid, def string) string {
	if def == "main" {
		return nsid
	}
	return nsid + "#" + def
}

// synth builds a JSON value for a schema with every property set, so that
// every generated field's encoder and decoder is exercised.
type synth struct {
	c    corpus
	step int
	// nulls sets nullable properties to null (one of the two variants).
	nulls bool
}

func (s *synth) value(nsid string, schema map[string]any, depth int) any {
	s.step++
	switch schema["type"] {
	case "object":
		return s.object(nsid, schema, depth)
	case "record":
		return s.object(nsid, schema["record"].(map[string]any), depth)
	case "ref":
		n, d := resolve(nsid, schema["ref"].(string))
		def := s.c.def(n, d)
		if def == nil {
			return "missing-ref"
		}
		v := s.value(n, def, depth+1)
		if m, ok := v.(map[string]any); ok && def["type"] == "record" && !s.nulls {
			// A record embedded by a plain ref, with its $type in one
			// variant and without in the other: either way it must come
			// back as it was.
			m["$type"] = typeName(n, d)
		}
		return v
	case "union":
		refs, _ := schema["refs"].([]any)
		if len(refs) == 0 || depth > 6 {
			return map[string]any{"$type": "com.example.unlisted#thing", "k": []any{1, "two", nil}}
		}
		// Rotate through the members so each gets generated somewhere.
		ref := refs[s.step%len(refs)].(string)
		n, d := resolve(nsid, ref)
		def := s.c.def(n, d)
		v, ok := s.value(n, def, depth+1).(map[string]any)
		if !ok {
			return map[string]any{"$type": "com.example.unlisted#thing"}
		}
		v["$type"] = typeName(n, d)
		return v
	case "array":
		if depth > 6 {
			return []any{}
		}
		return []any{s.value(nsid, schema["items"].(map[string]any), depth+1)}
	case "string", "token":
		if kv, ok := schema["knownValues"].([]any); ok && len(kv) > 0 {
			return kv[len(kv)-1]
		}
		if ev, ok := schema["enum"].([]any); ok && len(ev) > 0 {
			return ev[len(ev)-1]
		}
		return "s\u00e9\"\\\n😀"
	case "integer":
		if m, ok := schema["minimum"].(float64); ok {
			return int64(m) + 1
		}
		return int64(-7)
	case "boolean":
		if c, ok := schema["const"].(bool); ok {
			return c
		}
		return false
	case "blob":
		return map[string]any{"$type": "blob", "ref": map[string]any{"$link": "bafkreiq37i7latjpuu5xfmzkp2ec6uk3geqfng274loi25phssrrxqqm4p"},
			"mimeType": "image/jpeg", "size": int64(1234)}
	case "bytes":
		return map[string]any{"$bytes": "AAEC/w"}
	case "cid-link":
		return map[string]any{"$link": "bafyreiujzdegxdncf32epf3dhodzdocis2jhtlgmxgedn73u55xtplpft7"}
	case "unknown":
		return map[string]any{"$type": "com.example.custom", "n": 1.5, "list": []any{}}
	}
	return nil
}

func (s *synth) object(nsid string, schema map[string]any, depth int) map[string]any {
	out := map[string]any{}
	props, _ := schema["properties"].(map[string]any)
	nullable := map[string]bool{}
	for _, n := range asStrings(schema["nullable"]) {
		nullable[n] = true
	}
	required := map[string]bool{}
	for _, n := range asStrings(schema["required"]) {
		required[n] = true
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if depth > 8 && !required[name] {
			continue
		}
		if nullable[name] && s.nulls {
			out[name] = nil
			continue
		}
		out[name] = s.value(nsid, props[name].(map[string]any), depth+1)
	}
	out["zzFutureField"] = map[string]any{"added": "later"}
	return out
}

func asStrings(v any) []string {
	var out []string
	if a, ok := v.([]any); ok {
		for _, x := range a {
			out = append(out, x.(string))
		}
	}
	return out
}

// TestEveryDefRoundTrips builds a value with every property set for every
// object and record def of the corpus, decodes it with the type registered
// for its $type, and checks that encoding gives the same JSON back, with no
// member left undecoded.
func TestEveryDefRoundTrips(t *testing.T) {
	c := loadCorpus(t)
	nsids := make([]string, 0, len(c))
	for n := range c {
		nsids = append(nsids, n)
	}
	sort.Strings(nsids)
	count := 0
	for _, nsid := range nsids {
		defs := c[nsid]["defs"].(map[string]any)
		names := make([]string, 0, len(defs))
		for n := range defs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			def := defs[name].(map[string]any)
			if def["type"] != "object" && def["type"] != "record" {
				continue
			}
			typ := typeName(nsid, name)
			for variant := range 2 {
				s := &synth{c: c, step: variant, nulls: variant == 0}
				v := s.value(nsid, def, 0).(map[string]any)
				if def["type"] == "record" {
					v["$type"] = typ
				}
				in, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				obj := lex.New(typ)
				if obj == nil {
					t.Errorf("%s: no type registered", typ)
					break
				}
				if err := lex.Unmarshal(in, obj); err != nil {
					t.Errorf("%s: decode: %v\n%s", typ, err, in)
					continue
				}
				out, err := encode(obj)
				if err != nil {
					t.Errorf("%s: encode: %v", typ, err)
					continue
				}
				if diff := cmp.Diff(toAny(t, in), toAny(t, out)); diff != "" {
					t.Errorf("%s: round trip changed the JSON (-in +out):\n%s", typ, diff)
				}
				for _, p := range undecoded(reflect.ValueOf(obj), typ) {
					t.Errorf("%s", p)
				}
				count++
			}
		}
	}
	if count < 700 {
		t.Errorf("only %d values round-tripped", count)
	}
}

// undecoded reports every *lex.Unknown in a decoded value that should have
// been decoded into a generated type: one with Err set, or whose $type is
// registered.
func undecoded(v reflect.Value, path string) []string {
	var out []string
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		if u, ok := v.Interface().(*lex.Unknown); ok {
			if u.Err != nil {
				out = append(out, path+": member of known type "+u.Type+" failed to decode: "+u.Err.Error())
			} else if u.Type != "" && lex.New(u.Type) != nil {
				out = append(out, path+": registered type "+u.Type+" left as *lex.Unknown")
			}
			return out
		}
		return undecoded(v.Elem(), path)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Type == reflect.TypeFor[lex.Extra]() {
				continue
			}
			out = append(out, undecoded(v.Field(i), path+"."+f.Name)...)
		}
	case reflect.Slice:
		for i := range v.Len() {
			out = append(out, undecoded(v.Index(i), path+"[]")...)
		}
	}
	return out
}
