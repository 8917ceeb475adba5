package gen

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"slices"
	"strings"

	"github.com/bluesky-social/indigo/atproto/lexicon"
	"github.com/dave/jennifer/jen"
)

type generator struct {
	cfg       Config
	res       *resolver
	pkgs      map[string]*pkg         // by authority
	endpoints map[string]*endpointSig // by NSID, filled while building
}

// endpointSig is what the Agent file needs to know of a generated call.
type endpointSig struct {
	pkgPath, name        string
	procedure, hasParams bool
	pages                bool
	params               []*field
	in, out              body
	outFields            []*field // inline output object's array members
}

// pkg is one generated Go package.
type pkg struct {
	auth, name, path string
	schemas          []*Schema
	names            map[string]string // Go identifier → what declared it
}

type tkind int

const (
	kString tkind = iota
	kInt
	kBool
	kBytes
	kCID
	kBlob
	kUnknown
	kObject
	kArray
	kUnion
)

// typ is the Go type of a schema node.
type typ struct {
	kind       tkind
	path, name string // named type: objects, named strings, named arrays, unions
	elem       *typ   // inline array element
	closed     bool   // closed union: encoded through its check function
}

func (t *typ) named() bool { return t.name != "" }

func (t *typ) qual() *jen.Statement { return jen.Qual(t.path, t.name) }

func lexQual(name string) *jen.Statement { return jen.Qual(RuntimePath, name) }

// base returns the Go type that holds one value.
func (t *typ) base() *jen.Statement {
	switch t.kind {
	case kString:
		if t.named() {
			return t.qual()
		}
		return jen.String()
	case kInt:
		return jen.Int64()
	case kBool:
		return jen.Bool()
	case kBytes:
		return lexQual("Bytes")
	case kCID:
		return lexQual("CIDLink")
	case kBlob:
		return jen.Op("*").Add(lexQual("Blob"))
	case kUnknown:
		return lexQual("Object")
	case kObject:
		return jen.Op("*").Add(t.qual())
	case kUnion:
		return t.qual()
	case kArray:
		if t.named() {
			return t.qual()
		}
		return jen.Index().Add(t.elem.base())
	}
	panic("unreachable")
}

// scalar reports whether an optional value of t needs a pointer to tell
// absent from zero.
func (t *typ) scalar() bool {
	switch t.kind {
	case kString, kInt, kBool, kCID:
		return true
	}
	return false
}

// zero returns the zero value of t's base type.
func (t *typ) zero() jen.Code {
	switch t.kind {
	case kString, kCID:
		return jen.Lit("")
	case kInt:
		return jen.Lit(0)
	case kBool:
		return jen.False()
	}
	return jen.Nil()
}

// field is one property of an object or parameter list.
type field struct {
	json     string
	goName   string
	t        *typ
	required bool
	nullable bool
	desc     string
	def      jen.Code // lexicon default, for getters; nil if none
	defDoc   string
	node     any
}

func (f *field) goType() *jen.Statement {
	switch {
	case f.nullable && f.required:
		return lexQual("Nullable").Types(f.t.base())
	case f.nullable:
		return jen.Op("*").Add(lexQual("Nullable").Types(f.t.base()))
	case !f.required && f.t.scalar():
		return jen.Op("*").Add(f.t.base())
	}
	return f.t.base()
}

// fileGen builds one generated file.
type fileGen struct {
	g     *generator
	p     *pkg
	sc    *Schema
	f     *jen.File
	errs  []error
	inits []jen.Code
	tmp   int
}

// declare claims a Go identifier in the package for origin.
func (fg *fileGen) declare(name, origin string) {
	if !token.IsIdentifier(name) || !token.IsExported(name) {
		fg.fail(origin, fmt.Errorf("cannot make an exported Go name from %q", name))
		return
	}
	if prev, ok := fg.p.names[name]; ok && prev != origin {
		fg.fail(origin, fmt.Errorf("the Go name %s.%s is also the name of %s", fg.p.name, name, prev))
		return
	}
	fg.p.names[name] = origin
}

func (fg *fileGen) fail(defPath string, err error) {
	defPath = strings.TrimPrefix(strings.TrimPrefix(defPath, fg.sc.ID), "#")
	fg.errs = append(fg.errs, &SchemaError{File: fg.sc.Path, Def: defPath, Err: err})
}

func (fg *fileGen) tmpVar() string {
	fg.tmp++
	return fmt.Sprintf("v%d", fg.tmp)
}

// build assembles the file for sc. It runs serially across files, since it
// claims names in the shared package table.
func (g *generator) build(p *pkg, sc *Schema) (*jen.File, error) {
	fg := &fileGen{g: g, p: p, sc: sc, f: jen.NewFilePathName(p.path, p.name)}
	fg.f.HeaderComment(Header)
	fg.f.HeaderComment("Source: lexicon " + sc.ID + " (" + sc.Path + ")")
	for _, d := range sc.defs {
		fg.emitDef(d)
	}
	if len(fg.inits) > 0 {
		fg.f.Func().Id("init").Params().Block(fg.inits...)
	}
	if len(fg.errs) > 0 {
		return nil, errors.Join(fg.errs...)
	}
	return fg.f, nil
}

func render(f *jen.File) ([]byte, error) {
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileName returns the file generated for a lexicon: the NSID after the
// authority, keeping dots, so names cannot collide or end in _test.go.
func fileName(nsid string) string {
	parts := strings.Split(nsid, ".")
	rest := parts[2:]
	if len(rest) == 0 {
		rest = parts[len(parts)-1:]
	}
	return strings.Join(rest, ".") + ".go"
}

func (g *generator) docFile(p *pkg) (File, error) {
	text := wrap(fmt.Sprintf(
		"Package %s holds the Go types and XRPC calls generated from the %s.* lexicons (%d of them): "+
			"a struct for every record and object, an interface for every union, typed strings with "+
			"constants for known values and tokens, and one function per query and procedure that "+
			"sends it through a lex.Client (package github.com/atpgo/atp/agent/lex). "+
			"The package is generated by lexgen; do not edit it.",
		p.name, p.auth, len(p.schemas)))
	var b bytes.Buffer
	fmt.Fprintf(&b, "// %s\n\n", Header)
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprintf(&b, "// %s\n", l)
	}
	fmt.Fprintf(&b, "package %s\n", p.name)
	src, err := format.Source(b.Bytes())
	if err != nil {
		return File{}, err
	}
	return File{Path: p.name + "/doc.go", Content: src}, nil
}

// wrap re-flows text into comment lines of at most 90 columns.
func wrap(text string) string {
	var out []string
	for _, para := range strings.Split(strings.TrimSpace(text), "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > 90 {
				out = append(out, line)
				line = w
				continue
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

func ptrStr(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

// doc builds a doc comment: the sentence head, the lexicon's description,
// and a Deprecated paragraph when the description says so.
func doc(head, desc string) string {
	text := head
	if desc != "" {
		if !strings.HasSuffix(desc, ".") && !strings.HasSuffix(desc, "?") && !strings.HasSuffix(desc, ")") {
			desc += "."
		}
		text += " " + desc
	}
	text = wrap(text)
	if strings.Contains(strings.ToLower(desc), "deprecated") {
		text += "\n\nDeprecated: the lexicon marks this as deprecated; see above."
	}
	return text
}

// comment returns text as // comment lines.
func comment(text string) []jen.Code {
	var out []jen.Code
	for _, l := range strings.Split(text, "\n") {
		out = append(out, jen.Comment(l))
	}
	return out
}

// comment adds a // comment to the file, a line at a time.
func (fg *fileGen) comment(text string) {
	for _, l := range strings.Split(text, "\n") {
		fg.f.Comment(l)
	}
}

// qualFor returns the import path and Go name of a definition.
func (g *generator) qualFor(d *def) (string, string) {
	name := defName(d.schema.ID, d.name)
	if p, ok := g.importFor(d.schema.ID); ok {
		return p, name
	}
	if p := g.pkgs[authority(d.schema.ID)]; p != nil {
		return p.path, name
	}
	return "", name
}

// refType returns the Go type of a reference.
func (fg *fileGen) refType(ref, defPath string) *typ {
	d, err := fg.g.res.resolve(fg.sc, ref)
	if err != nil {
		fg.fail(defPath, err)
		return &typ{kind: kUnknown}
	}
	path, name := fg.g.qualFor(d)
	if path == "" {
		fg.fail(defPath, fmt.Errorf("reference %q: no Go package for %s; map it with an import", ref, authority(d.schema.ID)))
		return &typ{kind: kUnknown}
	}
	switch n := d.inner.(type) {
	case lexicon.SchemaObject:
		return &typ{kind: kObject, path: path, name: name}
	case lexicon.SchemaRecord:
		return &typ{kind: kObject, path: path, name: name}
	case lexicon.SchemaString:
		return &typ{kind: kString, path: path, name: name}
	case lexicon.SchemaArray:
		return &typ{kind: kArray, path: path, name: name}
	case lexicon.SchemaToken:
		return &typ{kind: kString}
	default:
		if k, ok := scalarKind(n); ok {
			return &typ{kind: k}
		}
		fg.fail(defPath, fmt.Errorf("reference %q names a %s", ref, kindName(n)))
		return &typ{kind: kUnknown}
	}
}

// scalarKind returns the kind of the schema types that map to one Go type
// whatever their constraints.
func scalarKind(node any) (tkind, bool) {
	switch node.(type) {
	case lexicon.SchemaInteger:
		return kInt, true
	case lexicon.SchemaBoolean:
		return kBool, true
	case lexicon.SchemaBytes:
		return kBytes, true
	case lexicon.SchemaCIDLink:
		return kCID, true
	case lexicon.SchemaBlob:
		return kBlob, true
	case lexicon.SchemaUnknown:
		return kUnknown, true
	}
	return 0, false
}

// typeOf returns the Go type of an inline schema node, emitting the named
// types it needs (unions, strings with known values, nested objects) under
// name. jsonPath locates the node in the file, defPath in the lexicon.
func (fg *fileGen) typeOf(node any, name, jsonPath, defPath string) *typ {
	switch n := node.(type) {
	case lexicon.SchemaString:
		if len(n.KnownValues) > 0 || len(n.Enum) > 0 {
			fg.emitString(name, n, defPath)
			return &typ{kind: kString, path: fg.p.path, name: name}
		}
		return &typ{kind: kString}
	case lexicon.SchemaInteger, lexicon.SchemaBoolean, lexicon.SchemaBytes,
		lexicon.SchemaCIDLink, lexicon.SchemaBlob, lexicon.SchemaUnknown:
		k, _ := scalarKind(n)
		return &typ{kind: k}
	case lexicon.SchemaRef:
		return fg.refType(n.Ref, defPath)
	case lexicon.SchemaUnion:
		return fg.emitUnion(name, n, defPath)
	case lexicon.SchemaArray:
		return &typ{kind: kArray, elem: fg.typeOf(n.Items.Inner, name, jsonPath+"/items", defPath+".items")}
	case lexicon.SchemaObject:
		fg.emitObject(name, n, jsonPath, defPath, ptrStr(n.Description), false, "")
		return &typ{kind: kObject, path: fg.p.path, name: name}
	}
	fg.fail(defPath, fmt.Errorf("unsupported schema type %s here", kindName(node)))
	return &typ{kind: kUnknown}
}

// reserved are the member names generated types use themselves; a lexicon
// property with one of these names gets a trailing underscore.
var reserved = map[string]bool{
	"Extra": true, "LexiconType": true, "EncodeLex": true, "DecodeLex": true,
	"MarshalJSON": true, "UnmarshalJSON": true, "ValidateLex": true,
}

func (fg *fileGen) fields(owner string, props map[string]lexicon.SchemaDef, required, nullable []string, jsonPath, defPath string) []*field {
	var out []*field
	for _, k := range fg.sc.keys(jsonPath+"/properties", mapKeys(props)) {
		node := props[k].Inner
		goName := exported(k)
		if reserved[goName] {
			goName += "_"
		}
		f := &field{
			json:     k,
			goName:   goName,
			required: slices.Contains(required, k),
			nullable: slices.Contains(nullable, k),
			node:     node,
		}
		f.t = fg.typeOf(node, owner+"_"+exported(k), jsonPath+"/properties/"+k, defPath+".properties."+k)
		f.desc, f.def, f.defDoc = describe(node)
		out = append(out, f)
	}
	return out
}

// describe returns a node's description and default.
func describe(node any) (string, jen.Code, string) {
	switch n := node.(type) {
	case lexicon.SchemaString:
		desc := ptrStr(n.Description)
		var extra []string
		if n.Format != nil {
			extra = append(extra, "Format: "+*n.Format+".")
		}
		if n.MaxLength != nil {
			extra = append(extra, fmt.Sprintf("At most %d bytes.", *n.MaxLength))
		}
		if n.MaxGraphemes != nil {
			extra = append(extra, fmt.Sprintf("At most %d graphemes.", *n.MaxGraphemes))
		}
		if n.Const != nil {
			extra = append(extra, fmt.Sprintf("Always %q.", *n.Const))
		}
		desc = joinDesc(desc, extra)
		if n.Default != nil {
			return desc, jen.Lit(*n.Default), fmt.Sprintf("%q", *n.Default)
		}
		return desc, nil, ""
	case lexicon.SchemaInteger:
		desc := ptrStr(n.Description)
		var extra []string
		if n.Minimum != nil && n.Maximum != nil {
			extra = append(extra, fmt.Sprintf("Between %d and %d.", *n.Minimum, *n.Maximum))
		} else if n.Minimum != nil {
			extra = append(extra, fmt.Sprintf("At least %d.", *n.Minimum))
		} else if n.Maximum != nil {
			extra = append(extra, fmt.Sprintf("At most %d.", *n.Maximum))
		}
		desc = joinDesc(desc, extra)
		if n.Default != nil {
			return desc, jen.Lit(int64(*n.Default)), fmt.Sprint(*n.Default)
		}
		return desc, nil, ""
	case lexicon.SchemaBoolean:
		desc := ptrStr(n.Description)
		if n.Const != nil {
			desc = joinDesc(desc, []string{fmt.Sprintf("Always %v.", *n.Const)})
		}
		if n.Default != nil {
			return desc, jen.Lit(*n.Default), fmt.Sprint(*n.Default)
		}
		return desc, nil, ""
	case lexicon.SchemaBlob:
		desc := ptrStr(n.Description)
		var extra []string
		if len(n.Accept) > 0 {
			extra = append(extra, "Accepts "+strings.Join(n.Accept, ", ")+".")
		}
		if n.MaxSize != nil {
			extra = append(extra, fmt.Sprintf("At most %d bytes.", *n.MaxSize))
		}
		return joinDesc(desc, extra), nil, ""
	case lexicon.SchemaArray:
		desc := ptrStr(n.Description)
		if n.MaxLength != nil {
			desc = joinDesc(desc, []string{fmt.Sprintf("At most %d items.", *n.MaxLength)})
		}
		return desc, nil, ""
	case lexicon.SchemaRef:
		return ptrStr(n.Description), nil, ""
	case lexicon.SchemaUnion:
		return ptrStr(n.Description), nil, ""
	case lexicon.SchemaUnknown:
		return ptrStr(n.Description), nil, ""
	case lexicon.SchemaBytes:
		return ptrStr(n.Description), nil, ""
	case lexicon.SchemaCIDLink:
		return ptrStr(n.Description), nil, ""
	}
	return "", nil, ""
}

func joinDesc(desc string, extra []string) string {
	if len(extra) == 0 {
		return desc
	}
	if desc != "" && !strings.HasSuffix(desc, ".") {
		desc += "."
	}
	return strings.TrimSpace(desc + " " + strings.Join(extra, " "))
}

func (fg *fileGen) emitDef(d *def) {
	name := defName(d.schema.ID, d.name)
	id := d.id()
	jp := "defs/" + d.name
	switch n := d.inner.(type) {
	case lexicon.SchemaRecord:
		fg.declare(name+"NSID", id)
		fg.comment(name + "NSID is the collection NSID of " + name + " records.")
		fg.f.Const().Id(name + "NSID").Op("=").Lit(d.schema.ID)
		fg.f.Line()
		desc := ptrStr(n.Description)
		if desc == "" {
			desc = ptrStr(n.Record.Description)
		}
		fg.emitObject(name, n.Record, jp+"/record", d.name+".record", desc, true, n.Key)
		fg.register(id, name)
	case lexicon.SchemaObject:
		fg.emitObject(name, n, jp, d.name, ptrStr(n.Description), false, "")
		fg.register(id, name)
	case lexicon.SchemaToken:
		fg.declare(name, id)
		fg.comment(doc(fmt.Sprintf("%s is the token %s.", name, id), ptrStr(n.Description)))
		fg.f.Const().Id(name).Op("=").Lit(id)
		fg.f.Line()
	case lexicon.SchemaString:
		fg.emitString(name, n, d.name)
	case lexicon.SchemaArray:
		fg.emitArray(name, n, jp, d.name)
	case lexicon.SchemaInteger, lexicon.SchemaBoolean, lexicon.SchemaBytes,
		lexicon.SchemaCIDLink, lexicon.SchemaBlob, lexicon.SchemaUnknown:
		t := fg.typeOf(n, name, jp, d.name)
		desc, _, _ := describe(n)
		fg.declare(name, id)
		fg.comment(doc(fmt.Sprintf("%s is the %s definition %s.", name, kindName(n), id), desc))
		fg.f.Type().Id(name).Op("=").Add(t.base())
		fg.f.Line()
	case lexicon.SchemaQuery:
		fg.emitEndpoint(d, name, n.Parameters, nil, n.Output, ptrStr(n.Description), false)
	case lexicon.SchemaProcedure:
		fg.emitEndpoint(d, name, n.Parameters, n.Input, n.Output, ptrStr(n.Description), true)
	case lexicon.SchemaSubscription:
		fg.emitSubscription(d, name, n)
	case lexicon.SchemaPermissionSet:
		fg.declare(name+"NSID", id)
		desc := ptrStr(n.Description)
		if desc == "" {
			desc = ptrStr(n.Title)
		}
		fg.comment(doc(fmt.Sprintf("%sNSID is the NSID of the permission set %s, for include: OAuth scopes.", name, id), desc))
		fg.f.Const().Id(name + "NSID").Op("=").Lit(id)
		fg.f.Line()
	default:
		fg.fail(d.name, fmt.Errorf("unsupported definition type %s", kindName(n)))
	}
}

func (fg *fileGen) register(id, name string) {
	fg.inits = append(fg.inits, lexQual("Register").Call(jen.Lit(id), jen.Func().Params().Add(lexQual("Object")).Block(jen.Return(jen.New(jen.Id(name))))))
}

// emitString emits a named string type with constants for its known
// values or enum.
func (fg *fileGen) emitString(name string, n lexicon.SchemaString, defPath string) {
	origin := fg.sc.ID + "#" + defPath
	fg.declare(name, origin)
	desc, _, _ := describe(n)
	head := fmt.Sprintf("%s is a string defined at %s.", name, strings.Replace(origin, "#main", "", 1))
	values := n.KnownValues
	switch {
	case len(n.Enum) > 0:
		values = n.Enum
		desc = joinDesc(desc, []string{"The value must be one of the constants below (a closed enum)."})
	case len(n.KnownValues) > 0:
		desc = joinDesc(desc, []string{"Its known values are the constants below; other values may appear and must be kept (an open set)."})
	}
	fg.comment(doc(head, desc))
	fg.f.Type().Id(name).String()
	fg.f.Line()
	if len(values) == 0 {
		return
	}
	seen := map[string]string{}
	var consts []jen.Code
	for _, v := range values {
		cn := name + valueName(v, fg.sc.ID)
		if prev, ok := seen[cn]; ok {
			if prev != v {
				fg.fail(defPath, fmt.Errorf("known values %q and %q both make the constant %s", prev, v, cn))
			}
			continue
		}
		seen[cn] = v
		fg.declare(cn, origin+" value "+v)
		consts = append(consts, jen.Comment(fmt.Sprintf("%s is %q.", cn, v)), jen.Id(cn).Id(name).Op("=").Lit(v))
	}
	fg.f.Const().Defs(consts...)
	fg.f.Line()
}

// emitArray emits a named slice type for a top-level array definition.
func (fg *fileGen) emitArray(name string, n lexicon.SchemaArray, jsonPath, defPath string) {
	id := fg.sc.ID + "#" + defPath
	fg.declare(name, id)
	elem := fg.typeOf(n.Items.Inner, name+"_Item", jsonPath+"/items", defPath+".items")
	desc, _, _ := describe(n)
	fg.comment(doc(fmt.Sprintf("%s is the array %s.", name, id), desc))
	fg.f.Type().Id(name).Index().Add(elem.base())
	fg.f.Line()
	fg.comment("EncodeLex writes s as a JSON array.")
	fg.f.Func().Params(jen.Id("s").Id(name)).Id("EncodeLex").Params(jen.Id("e").Op("*").Add(lexQual("Encoder"))).Block(
		fg.encodeValue(&typ{kind: kArray, elem: elem}, jen.Id("s"))...,
	)
	fg.f.Line()
	fg.comment("DecodeLex reads s from a JSON array.")
	fg.f.Func().Params(jen.Id("s").Op("*").Id(name)).Id("DecodeLex").Params(jen.Id("d").Op("*").Add(lexQual("Decoder"))).Block(
		fg.decodeValue(&typ{kind: kArray, elem: elem}, func(v jen.Code) jen.Code { return jen.Op("*").Id("s").Op("=").Add(v) })...,
	)
	fg.f.Line()
	fg.comment("ValidateLex validates the elements of s as the array at path.")
	checks := fg.valueChecks(&typ{kind: kArray, elem: elem}, n, jen.Id("s"), func() *jen.Statement { return jen.Id("path") })
	vbody := []jen.Code{jen.Return(jen.Nil())}
	if len(checks) > 0 {
		vbody = append([]jen.Code{jen.Id("c").Op(":=").Add(lexQual("Checker")).Values(jen.Dict{jen.Id("Type"): jen.Lit(id)})}, checks...)
		vbody = append(vbody, jen.Return(jen.Id("c").Dot("Err").Call()))
	}
	fg.f.Func().Params(jen.Id("s").Id(name)).Id("ValidateLex").Params(jen.Id("path").String()).Error().Block(vbody...)
	fg.f.Line()
	fg.comment("MarshalJSON implements json.Marshaler.")
	fg.f.Func().Params(jen.Id("s").Id(name)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.Var().Id("e").Add(lexQual("Encoder")),
		jen.Id("s").Dot("EncodeLex").Call(jen.Op("&").Id("e")),
		jen.Return(jen.Id("e").Dot("Bytes").Call()),
	)
	fg.f.Line()
	fg.comment("UnmarshalJSON implements json.Unmarshaler.")
	fg.f.Func().Params(jen.Id("s").Op("*").Id(name)).Id("UnmarshalJSON").Params(jen.Id("b").Index().Byte()).Error().Block(
		jen.Id("d").Op(":=").Add(lexQual("NewDecoder")).Call(jen.Id("b")),
		jen.Id("s").Dot("DecodeLex").Call(jen.Id("d")),
		jen.Return(jen.Id("d").Dot("Finish").Call()),
	)
	fg.f.Line()
}

// emitUnion emits the interface type of a union and its decoder (and, for
// a closed union, its encoder).
func (fg *fileGen) emitUnion(name string, n lexicon.SchemaUnion, defPath string) *typ {
	origin := strings.Replace(fg.sc.ID+"#"+defPath, "#main.", "#", 1)
	fg.declare(name, origin)
	closed := n.Closed != nil && *n.Closed
	var members []*typ
	var memberIDs []string
	seen := map[string]bool{}
	for _, ref := range n.Refs {
		full := ref
		if strings.HasPrefix(ref, "#") {
			full = fg.sc.ID + ref
		}
		full = strings.TrimSuffix(full, "#main")
		if seen[full] {
			continue
		}
		seen[full] = true
		t := fg.refType(ref, defPath)
		if t.kind != kObject {
			fg.fail(defPath, fmt.Errorf("union member %q is not an object", ref))
			continue
		}
		members = append(members, t)
		memberIDs = append(memberIDs, full)
	}
	kind := "open"
	if closed {
		kind = "closed"
	}
	var list []string
	for _, m := range members {
		if m.path == fg.p.path {
			list = append(list, "[*"+m.name+"]")
		} else {
			list = append(list, "[*"+m.path[strings.LastIndex(m.path, "/")+1:]+"."+m.name+"]")
		}
	}
	head := fmt.Sprintf("%s is the %s union %s.", name, kind, origin)
	switch {
	case len(list) > 0 && closed:
		head += " Its members are " + strings.Join(list, ", ") + "; no other type is allowed."
	case len(list) > 0:
		head += " Its known members are " + strings.Join(list, ", ") + ". A member of another $type decodes to its registered type, or to [*lex.Unknown], which keeps it unchanged."
	default:
		head += " It lists no members: any object with a $type may appear; registered types decode to their Go type, others to [*lex.Unknown]."
	}
	fg.comment(doc(head, ptrStr(n.Description)))
	fg.f.Type().Id(name).Interface(lexQual("Object"))
	fg.f.Line()

	dec := "decode" + name
	var cases []jen.Code
	for i, m := range members {
		labels := []jen.Code{jen.Lit(memberIDs[i])}
		if !strings.Contains(memberIDs[i], "#") {
			labels = append(labels, jen.Lit(memberIDs[i]+"#main"))
		}
		if closed {
			// A closed union holds only its members: a member that does
			// not decode is an error, not an *lex.Unknown.
			cases = append(cases, jen.Case(labels...).Block(
				jen.Id("v").Op(":=").New(m.qual()),
				jen.Id("v").Dot("DecodeLex").Call(jen.Id("d")),
				jen.Return(jen.Id("v")),
			))
			continue
		}
		cases = append(cases, jen.Case(labels...).Block(
			jen.Return(lexQual("DecodeMember").Call(jen.Id("d"), jen.New(m.qual()))),
		))
	}
	if closed {
		cases = append(cases, jen.Default().Block(
			jen.Id("d").Dot("Fail").Call(jen.Op("&").Add(lexQual("UnionError")).Values(jen.Dict{
				jen.Id("Union"): jen.Lit(origin),
				jen.Id("Type"):  jen.String().Call(jen.Id("t")),
			})),
			jen.Return(jen.Nil()),
		))
	} else {
		cases = append(cases, jen.Default().Block(jen.Return(lexQual("DecodeAny").Call(jen.Id("d")))))
	}
	fg.f.Func().Id(dec).Params(jen.Id("d").Op("*").Add(lexQual("Decoder"))).Id(name).Block(
		jen.If(jen.Id("d").Dot("Null").Call()).Block(jen.Return(jen.Nil())),
		jen.Switch(jen.Id("t").Op(":=").Id("d").Dot("PeekTypeBytes").Call(), jen.String().Call(jen.Id("t"))).Block(cases...),
	)
	fg.f.Line()
	t := &typ{kind: kUnion, path: fg.p.path, name: name, closed: closed}
	if closed {
		var mcases []jen.Code
		var types []jen.Code
		for _, m := range members {
			types = append(types, jen.Op("*").Add(m.qual()))
		}
		if len(types) > 0 {
			mcases = append(mcases, jen.Case(types...).Block(jen.Id("v").Dot("EncodeLex").Call(jen.Id("e"), jen.True())))
		}
		mcases = append(mcases, jen.Default().Block(
			jen.Id("e").Dot("Fail").Call(jen.Op("&").Add(lexQual("UnionError")).Values(jen.Dict{
				jen.Id("Union"): jen.Lit(origin),
				jen.Id("Type"):  jen.Id("v").Dot("LexiconType").Call(),
			})),
		))
		fg.f.Func().Id("encode"+name).Params(jen.Id("e").Op("*").Add(lexQual("Encoder")), jen.Id("v").Id(name)).Block(
			jen.If(jen.Id("v").Op("==").Nil()).Block(jen.Id("e").Dot("Null").Call(), jen.Return()),
			jen.Switch(jen.Id("v").Assert(jen.Type())).Block(mcases...),
		)
		fg.f.Line()
	}
	return t
}

// emitObject emits a struct for an object (or a record's object) with its
// JSON methods and getters.
func (fg *fileGen) emitObject(name string, n lexicon.SchemaObject, jsonPath, defPath, desc string, record bool, key string) {
	isDef := !strings.Contains(defPath, ".") || (record && defPath == "main.record")
	id := fg.sc.ID
	switch {
	case isDef && !record && defPath != "main":
		id += "#" + defPath
	case !isDef:
		id += "#" + strings.TrimPrefix(defPath, "main.")
	}
	origin := fg.sc.ID + "#" + defPath
	fg.declare(name, origin)
	fields := fg.fields(name, n.Properties, n.Required, n.Nullable, jsonPath, defPath)

	var head string
	switch {
	case record:
		head = fmt.Sprintf("%s is the record %s (record key: %s).", name, fg.sc.ID, key)
	case isDef:
		head = fmt.Sprintf("%s is the object %s.", name, id)
	default:
		head = fmt.Sprintf("%s is the object at %s.", name, strings.Replace(origin, "#main.", "#", 1))
	}
	fg.comment(doc(head, desc))
	var sfields []jen.Code
	members := map[string]bool{}
	for _, f := range fields {
		members[f.goName] = true
	}
	for _, f := range fields {
		var notes []string
		if f.required {
			notes = append(notes, "Required.")
		}
		if f.nullable {
			notes = append(notes, "Nullable: Valid false means JSON null.")
		}
		if f.defDoc != "" {
			notes = append(notes, "Default: "+f.defDoc+".")
		}
		text := wrap(joinDesc(f.desc, notes))
		if strings.Contains(strings.ToLower(f.desc), "deprecated") {
			text += "\n\nDeprecated: the lexicon marks this field as deprecated."
		}
		if text != "" {
			sfields = append(sfields, comment(text)...)
		}
		sfields = append(sfields, jen.Id(f.goName).Add(f.goType()).Tag(map[string]string{"json": f.json}))
		if members["Get"+f.goName] {
			fg.fail(defPath, fmt.Errorf("field %s and the getter of %s have the same Go name", "Get"+f.goName, f.goName))
		}
	}
	sfields = append(sfields,
		jen.Line(),
		jen.Comment("Extra keeps members the lexicon does not define, and the \"$type\" as decoded,"),
		jen.Comment("so that encoding writes them back unchanged."),
		jen.Id("Extra").Add(lexQual("Extra")).Tag(map[string]string{"json": "-"}),
	)
	fg.f.Type().Id(name).Struct(sfields...)
	fg.f.Line()

	// LexiconType
	fg.comment(fmt.Sprintf("LexiconType returns %q, the $type of %s values.", id, name))
	fg.f.Func().Params(jen.Op("*").Id(name)).Id("LexiconType").Params().String().Block(jen.Return(jen.Lit(id)))
	fg.f.Line()

	// EncodeLex
	typedArg := jen.Id("typed")
	enc := []jen.Code{
		jen.If(jen.Id("x").Op("==").Nil()).Block(jen.Id("e").Dot("Null").Call(), jen.Return()),
		jen.Id("e").Dot("BeginObject").Call(),
		jen.Id("x").Dot("Extra").Dot("EncodeType").Call(jen.Id("e"), jen.Lit(id), typedArg),
	}
	for _, f := range fields {
		enc = append(enc, fg.encodeField(f)...)
	}
	var defined strings.Builder
	for _, f := range fields {
		defined.WriteString(f.json + "\x00")
	}
	enc = append(enc, jen.Id("x").Dot("Extra").Dot("Encode").Call(jen.Id("e"), jen.Lit(defined.String())), jen.Id("e").Dot("EndObject").Call())
	if record {
		fg.comment("EncodeLex writes x as JSON. \"$type\" is written when typed is set or x was decoded with")
		fg.comment("one; MarshalJSON and union and unknown positions set it, as records require.")
	} else {
		fg.comment("EncodeLex writes x as JSON; \"$type\" is written when typed is set or x was decoded with one.")
	}
	typedParam := jen.Id("typed").Bool()
	fg.f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("EncodeLex").Params(jen.Id("e").Op("*").Add(lexQual("Encoder")), typedParam).Block(enc...)
	fg.f.Line()

	// DecodeLex
	cases := []jen.Code{
		jen.Case(jen.Lit("$type")).Block(jen.Id("x").Dot("Extra").Dot("DecodeType").Call(jen.Id("d"), jen.Lit(id))),
	}
	for _, f := range fields {
		cases = append(cases, jen.Case(jen.Lit(f.json)).Block(fg.decodeField(f)...))
	}
	cases = append(cases, jen.Default().Block(jen.Id("x").Dot("Extra").Dot("Capture").Call(jen.Id("d"), jen.Id("k"))))
	fg.comment("DecodeLex reads x from JSON, keeping members it does not know in x.Extra.")
	fg.f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("DecodeLex").Params(jen.Id("d").Op("*").Add(lexQual("Decoder"))).Block(
		jen.Op("*").Id("x").Op("=").Id(name).Values(),
		jen.If(jen.Op("!").Id("d").Dot("BeginObject").Call()).Block(jen.Return()),
		jen.For(jen.Id("d").Dot("More").Call()).Block(
			jen.Id("k").Op(":=").Id("d").Dot("Key").Call(),
			jen.Switch(jen.String().Call(jen.Id("k"))).Block(cases...),
		),
	)
	fg.f.Line()

	fg.comment("MarshalJSON implements json.Marshaler.")
	fg.f.Func().Params(jen.Id("x").Id(name)).Id("MarshalJSON").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.Var().Id("e").Add(lexQual("Encoder")),
		jen.Id("x").Dot("EncodeLex").Call(jen.Op("&").Id("e"), jen.Lit(record)),
		jen.Return(jen.Id("e").Dot("Bytes").Call()),
	)
	fg.f.Line()
	fg.comment("UnmarshalJSON implements json.Unmarshaler.")
	fg.f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("UnmarshalJSON").Params(jen.Id("b").Index().Byte()).Error().Block(
		jen.Return(lexQual("Unmarshal").Call(jen.Id("b"), jen.Id("x"))),
	)
	fg.f.Line()

	fg.emitValidate(name, id, fields)
	for _, f := range fields {
		fg.getter(name, f)
	}
}

// emitValidate emits Validate and ValidateLex, which check a value
// against the constraints its lexicon declares.
func (fg *fileGen) emitValidate(name, id string, fields []*field) {
	var body []jen.Code
	for _, f := range fields {
		body = append(body, fg.fieldChecks(f)...)
	}
	fg.comment(wrap(fmt.Sprintf("ValidateLex checks x, the value at path, against the constraints of %s (required members, lengths, grapheme counts, formats, blob types and sizes), recursively. It returns nil or *lex.ValidationError values joined with errors.Join. Call it as lex.Validate(x).", id)))
	if len(body) == 0 {
		fg.f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("ValidateLex").Params(jen.Id("path").String()).Error().Block(jen.Return(jen.Nil()))
		fg.f.Line()
		return
	}
	stmts := []jen.Code{
		jen.If(jen.Id("x").Op("==").Nil()).Block(jen.Return(jen.Nil())),
		jen.Id("c").Op(":=").Add(lexQual("Checker")).Values(jen.Dict{jen.Id("Type"): jen.Lit(id)}),
	}
	stmts = append(stmts, body...)
	stmts = append(stmts, jen.Return(jen.Id("c").Dot("Err").Call()))
	fg.f.Func().Params(jen.Id("x").Op("*").Id(name)).Id("ValidateLex").Params(jen.Id("path").String()).Error().Block(stmts...)
	fg.f.Line()
}

// constraintNode returns the schema whose constraints apply to a value:
// the node itself, or the string, integer or array definition it refers to.
func (fg *fileGen) constraintNode(node any) any {
	if r, ok := node.(lexicon.SchemaRef); ok {
		if d, err := fg.g.res.resolve(fg.sc, r.Ref); err == nil {
			switch d.inner.(type) {
			case lexicon.SchemaString, lexicon.SchemaInteger:
				return d.inner
			}
		}
	}
	return node
}

func (fg *fileGen) fieldChecks(f *field) []jen.Code {
	ref := func() *jen.Statement { return jen.Id("x").Dot(f.goName) }
	path := func() *jen.Statement { return lexQual("Join").Call(jen.Id("path"), jen.Lit(f.json)) }
	var out []jen.Code
	nilable := !f.nullable && (f.t.kind == kObject || f.t.kind == kBlob || f.t.kind == kUnion || f.t.kind == kUnknown)
	if f.required && nilable {
		out = append(out, jen.Id("c").Dot("Required").Call(path(), ref().Op("!=").Nil()))
	}
	switch {
	case f.nullable:
		val := ref().Dot("Value")
		cond := ref().Dot("Valid")
		if !f.required {
			cond = ref().Op("!=").Nil().Op("&&").Add(ref()).Dot("Valid")
		}
		if c := fg.valueChecks(f.t, f.node, val, path); len(c) > 0 {
			out = append(out, jen.If(cond).Block(c...))
		}
	case !f.required && f.t.scalar():
		if c := fg.valueChecks(f.t, f.node, jen.Op("*").Add(ref()), path); len(c) > 0 {
			out = append(out, jen.If(ref().Op("!=").Nil()).Block(c...))
		}
	case f.t.kind == kArray && !f.t.named():
		out = append(out, fg.arrayChecks(f.t, f.node, ref(), path, !f.required)...)
	default:
		out = append(out, fg.valueChecks(f.t, f.node, ref(), path)...)
	}
	return out
}

// valueChecks returns the checks of one value of type t, held by val.
func (fg *fileGen) valueChecks(t *typ, node any, val jen.Code, path func() *jen.Statement) []jen.Code {
	c := func() *jen.Statement { return jen.Id("c") }
	node = fg.constraintNode(node)
	switch t.kind {
	case kString:
		n, ok := node.(lexicon.SchemaString)
		if !ok {
			return nil
		}
		d := jen.Dict{}
		set := func(k string, p *int) {
			if p != nil {
				d[jen.Id(k)] = jen.Lit(*p)
			}
		}
		set("MinLength", n.MinLength)
		set("MaxLength", n.MaxLength)
		set("MinGraphemes", n.MinGraphemes)
		set("MaxGraphemes", n.MaxGraphemes)
		if n.Format != nil {
			d[jen.Id("Format")] = jen.Lit(*n.Format)
		}
		if len(n.Enum) > 0 {
			var vs []jen.Code
			for _, v := range n.Enum {
				vs = append(vs, jen.Lit(v))
			}
			d[jen.Id("Enum")] = jen.Index().String().Values(vs...)
		}
		if n.Const != nil {
			d[jen.Id("Const")] = jen.Lit(*n.Const)
		}
		if len(d) == 0 {
			return nil
		}
		v := val
		if t.named() {
			v = jen.String().Call(val)
		}
		return []jen.Code{c().Dot("String").Call(path(), v, lexQual("StringRules").Values(d))}
	case kInt:
		n, ok := node.(lexicon.SchemaInteger)
		if !ok {
			return nil
		}
		d := jen.Dict{}
		if n.Minimum != nil {
			d[jen.Id("Min")] = jen.Lit(int64(*n.Minimum))
			d[jen.Id("HasMin")] = jen.True()
		}
		if n.Maximum != nil {
			d[jen.Id("Max")] = jen.Lit(int64(*n.Maximum))
			d[jen.Id("HasMax")] = jen.True()
		}
		if len(n.Enum) > 0 {
			var vs []jen.Code
			for _, v := range n.Enum {
				vs = append(vs, jen.Lit(int64(v)))
			}
			d[jen.Id("Enum")] = jen.Index().Int64().Values(vs...)
		}
		if len(d) == 0 {
			return nil
		}
		return []jen.Code{c().Dot("Int").Call(path(), val, lexQual("IntRules").Values(d))}
	case kBytes:
		n, ok := node.(lexicon.SchemaBytes)
		if !ok || (n.MinLength == nil && n.MaxLength == nil) {
			return nil
		}
		return []jen.Code{c().Dot("Len").Call(path(), jen.Len(val), jen.Lit(intOr0(n.MinLength)), jen.Lit(intOr0(n.MaxLength)))}
	case kBlob:
		n, ok := node.(lexicon.SchemaBlob)
		if !ok || (len(n.Accept) == 0 && n.MaxSize == nil) {
			return nil
		}
		accept := jen.Nil()
		if len(n.Accept) > 0 {
			var vs []jen.Code
			for _, a := range n.Accept {
				vs = append(vs, jen.Lit(a))
			}
			accept = jen.Index().String().Values(vs...)
		}
		return []jen.Code{c().Dot("Blob").Call(path(), val, accept, jen.Lit(int64(intOr0(n.MaxSize))))}
	case kObject, kUnion, kUnknown:
		return []jen.Code{c().Dot("Nested").Call(path(), val)}
	case kArray:
		if t.named() {
			return []jen.Code{c().Dot("Nested").Call(path(), val)}
		}
		return fg.arrayChecks(t, node, val, path, false)
	}
	return nil
}

// arrayChecks returns the checks of an inline array: its length (only when
// present, if optional) and each element.
func (fg *fileGen) arrayChecks(t *typ, node any, val jen.Code, path func() *jen.Statement, optional bool) []jen.Code {
	var out []jen.Code
	var items any
	if n, ok := node.(lexicon.SchemaArray); ok {
		if n.MinLength != nil || n.MaxLength != nil {
			l := jen.Id("c").Dot("Len").Call(path(), jen.Len(val), jen.Lit(intOr0(n.MinLength)), jen.Lit(intOr0(n.MaxLength)))
			if optional && n.MinLength != nil {
				l = jen.If(jen.Add(val).Op("!=").Nil()).Block(l)
			}
			out = append(out, l)
		}
		items = n.Items.Inner
	}
	i, v := fg.tmpVar(), fg.tmpVar()
	elemPath := func() *jen.Statement { return lexQual("Index").Call(path(), jen.Id(i)) }
	if ec := fg.valueChecks(t.elem, items, jen.Id(v), elemPath); len(ec) > 0 {
		out = append(out, jen.For(jen.List(jen.Id(i), jen.Id(v)).Op(":=").Range().Add(val)).Block(ec...))
	}
	return out
}

func intOr0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func (fg *fileGen) getter(owner string, f *field) {
	x := jen.Id("x")
	fieldRef := func() *jen.Statement { return jen.Id("x").Dot(f.goName) }
	if !f.nullable && !f.required && f.t.scalar() {
		fallback := f.t.zero()
		what := "its zero value"
		if f.def != nil {
			fallback = f.def
			if f.t.named() {
				fallback = f.t.qual().Call(f.def)
			}
			what = "the lexicon default, " + f.defDoc + ","
		}
		fg.comment(fmt.Sprintf("Get%s returns x.%s, or %s if x or x.%s is nil.", f.goName, f.goName, what, f.goName))
		fg.f.Func().Params(x.Clone().Op("*").Id(owner)).Id("Get"+f.goName).Params().Add(f.t.base()).Block(
			jen.If(jen.Id("x").Op("!=").Nil().Op("&&").Add(fieldRef()).Op("!=").Nil()).Block(jen.Return(jen.Op("*").Add(fieldRef()))),
			jen.Return(fallback),
		)
		fg.f.Line()
		return
	}
	var zero jen.Code
	switch {
	case f.nullable && f.required:
		zero = lexQual("Nullable").Types(f.t.base()).Values()
	case f.nullable:
		zero = jen.Nil()
	default:
		zero = f.t.zero()
	}
	fg.comment(fmt.Sprintf("Get%s returns x.%s, or its zero value if x is nil.", f.goName, f.goName))
	fg.f.Func().Params(x.Clone().Op("*").Id(owner)).Id("Get"+f.goName).Params().Add(f.goType()).Block(
		jen.If(jen.Id("x").Op("==").Nil()).Block(jen.Return(zero)),
		jen.Return(fieldRef()),
	)
	fg.f.Line()
}

// encodeField writes one member, skipping absent optional ones.
func (fg *fileGen) encodeField(f *field) []jen.Code {
	ref := func() *jen.Statement { return jen.Id("x").Dot(f.goName) }
	name := jen.Id("e").Dot("Field").Call(jen.Lit(f.json))
	if f.nullable {
		inner := ref()
		if !f.required {
			inner = jen.Parens(jen.Op("*").Add(ref()))
		}
		body := []jen.Code{
			name,
			jen.If(inner.Clone().Dot("Valid")).Block(fg.encodeValue(f.t, inner.Clone().Dot("Value"))...).Else().Block(jen.Id("e").Dot("Null").Call()),
		}
		if f.required {
			return body
		}
		return []jen.Code{jen.If(ref().Op("!=").Nil()).Block(body...)}
	}
	if !f.required && f.t.scalar() {
		var val jen.Code = jen.Op("*").Add(ref())
		if f.t.kind == kCID {
			val = ref() // value method called through the pointer
		}
		return []jen.Code{jen.If(ref().Op("!=").Nil()).Block(append([]jen.Code{name}, fg.encodeValue(f.t, val)...)...)}
	}
	switch {
	case f.t.scalar(), f.t.kind == kArray && !f.t.named() && f.required:
		return append([]jen.Code{name}, fg.encodeValue(f.t, ref())...)
	}
	return []jen.Code{jen.If(ref().Op("!=").Nil()).Block(append([]jen.Code{name}, fg.encodeValue(f.t, ref())...)...)}
}

// encodeValue writes one value of type t held by val.
func (fg *fileGen) encodeValue(t *typ, val jen.Code) []jen.Code {
	e := func() *jen.Statement { return jen.Id("e") }
	switch t.kind {
	case kString:
		if t.named() {
			return []jen.Code{e().Dot("String").Call(jen.String().Call(val))}
		}
		return []jen.Code{e().Dot("String").Call(val)}
	case kInt:
		return []jen.Code{e().Dot("Int").Call(val)}
	case kBool:
		return []jen.Code{e().Dot("Bool").Call(val)}
	case kBytes, kCID, kBlob:
		return []jen.Code{jen.Add(val).Dot("EncodeLex").Call(e())}
	case kObject:
		return []jen.Code{jen.Add(val).Dot("EncodeLex").Call(e(), jen.False())}
	case kUnknown:
		return []jen.Code{lexQual("EncodeObject").Call(e(), val)}
	case kUnion:
		if t.closed {
			return []jen.Code{jen.Id("encode"+t.name).Call(e(), val)}
		}
		return []jen.Code{lexQual("EncodeObject").Call(e(), val)}
	case kArray:
		if t.named() {
			return []jen.Code{jen.Add(val).Dot("EncodeLex").Call(e())}
		}
		v := fg.tmpVar()
		return []jen.Code{
			e().Dot("BeginArray").Call(),
			jen.For(jen.List(jen.Id("_"), jen.Id(v)).Op(":=").Range().Add(val)).Block(fg.encodeValue(t.elem, jen.Id(v))...),
			e().Dot("EndArray").Call(),
		}
	}
	panic("unreachable")
}

// decodeField reads one member's value.
func (fg *fileGen) decodeField(f *field) []jen.Code {
	ref := func() *jen.Statement { return jen.Id("x").Dot(f.goName) }
	if f.nullable {
		nt := lexQual("Nullable").Types(f.t.base())
		mk := func(v jen.Code) jen.Code {
			val := nt.Clone().Values(jen.Dict{jen.Id("Value"): v, jen.Id("Valid"): jen.True()})
			if !f.required {
				val = jen.Op("&").Add(val)
			}
			return ref().Op("=").Add(val)
		}
		null := nt.Clone().Values()
		if !f.required {
			null = jen.Op("&").Add(null)
		}
		return []jen.Code{jen.If(jen.Id("d").Dot("Null").Call()).Block(ref().Op("=").Add(null)).Else().Block(fg.decodeValue(f.t, mk)...)}
	}
	assign := func(v jen.Code) jen.Code { return ref().Op("=").Add(v) }
	if !f.required && f.t.scalar() {
		assign = func(v jen.Code) jen.Code { return ref().Op("=").Add(lexQual("Ptr").Call(v)) }
	}
	return []jen.Code{jen.If(jen.Op("!").Id("d").Dot("Null").Call()).Block(fg.decodeValue(f.t, assign)...)}
}

// decodeValue reads one value of type t and hands it to assign.
func (fg *fileGen) decodeValue(t *typ, assign func(jen.Code) jen.Code) []jen.Code {
	d := func() *jen.Statement { return jen.Id("d") }
	switch t.kind {
	case kString:
		v := d().Dot("String").Call()
		if t.named() {
			v = t.qual().Call(v)
		}
		return []jen.Code{assign(v)}
	case kInt:
		return []jen.Code{assign(d().Dot("Int").Call())}
	case kBool:
		return []jen.Code{assign(d().Dot("Bool").Call())}
	case kUnknown:
		return []jen.Code{assign(lexQual("DecodeAny").Call(d()))}
	case kUnion:
		return []jen.Code{assign(jen.Id("decode" + t.name).Call(d()))}
	case kBytes, kCID:
		v := fg.tmpVar()
		return []jen.Code{jen.Var().Id(v).Add(t.base()), jen.Id(v).Dot("DecodeLex").Call(d()), assign(jen.Id(v))}
	case kBlob:
		v := fg.tmpVar()
		return []jen.Code{jen.Id(v).Op(":=").New(lexQual("Blob")), jen.Id(v).Dot("DecodeLex").Call(d()), assign(jen.Id(v))}
	case kObject:
		v := fg.tmpVar()
		return []jen.Code{jen.Id(v).Op(":=").New(t.qual()), jen.Id(v).Dot("DecodeLex").Call(d()), assign(jen.Id(v))}
	case kArray:
		v := fg.tmpVar()
		if t.named() {
			return []jen.Code{jen.Var().Id(v).Add(t.qual()), jen.Id(v).Dot("DecodeLex").Call(d()), assign(jen.Id(v))}
		}
		appendTo := func(x jen.Code) jen.Code { return jen.Id(v).Op("=").Append(jen.Id(v), x) }
		return []jen.Code{
			jen.Id(v).Op(":=").Add(t.base()).Values(),
			jen.If(d().Dot("BeginArray").Call()).Block(
				jen.For(d().Dot("More").Call()).Block(fg.decodeValue(t.elem, appendTo)...),
			),
			assign(jen.Id(v)),
		}
	}
	panic("unreachable")
}

// paramGo returns the Go type of a query parameter.
func paramType(f *field) *jen.Statement {
	if f.t.kind == kArray {
		return jen.Index().Add(f.t.elem.base())
	}
	if !f.required && (f.t.kind == kInt || f.t.kind == kBool) {
		return jen.Op("*").Add(f.t.base())
	}
	return f.t.base()
}

// paramSet returns the statements that add a parameter's value v to q.
func (fg *fileGen) paramSet(f *field, v jen.Code, add bool) jen.Code {
	method := "Set"
	if add {
		method = "Add"
	}
	t := f.t
	if t.kind == kArray {
		t = t.elem
	}
	var s jen.Code
	switch t.kind {
	case kInt:
		s = jen.Qual("strconv", "FormatInt").Call(v, jen.Lit(10))
	case kBool:
		s = jen.Qual("strconv", "FormatBool").Call(v)
	case kString:
		if t.named() {
			s = jen.String().Call(v)
		} else {
			s = v
		}
	default:
		s = jen.Qual("fmt", "Sprint").Call(v)
	}
	return jen.Id("q").Dot(method).Call(jen.Lit(f.json), s)
}

// argName returns a Go parameter name for a required XRPC parameter.
func argName(json string) string {
	n := json
	if !token.IsIdentifier(n) {
		n = "arg" + exported(json)
	}
	switch n {
	case "ctx", "c", "params", "input", "q", "req", "out", "err", "body", "contentType", "d", "e", "b", "v", "dec",
		"url", "http", "context", "io", "strconv", "fmt", "lex":
		return n + "Arg"
	}
	if token.IsKeyword(n) {
		return n + "_"
	}
	return n
}

func (fg *fileGen) paramFields(endpoint string, params *lexicon.SchemaParams, defPath string) []*field {
	if params == nil {
		return nil
	}
	fs := fg.fields(endpoint+"Params", params.Properties, params.Required, nil, "defs/main/parameters", defPath+".parameters")
	for _, f := range fs {
		if f.t.kind == kArray && f.t.elem.kind == kArray || f.t.kind == kObject || f.t.kind == kUnion || f.t.kind == kUnknown || f.t.kind == kBlob || f.t.kind == kBytes || f.t.kind == kCID {
			fg.fail(defPath+".parameters."+f.json, fmt.Errorf("parameters cannot be of this type"))
		}
	}
	return fs
}

// emitParams emits the struct of a call's optional parameters.
func (fg *fileGen) emitParams(name, endpointID string, fields []*field) {
	fg.declare(name+"Params", endpointID+" parameters")
	var sfields []jen.Code
	var body []jen.Code
	body = append(body, jen.If(jen.Id("p").Op("==").Nil()).Block(jen.Return()))
	for _, f := range fields {
		if f.required {
			continue
		}
		var notes []string
		if f.defDoc != "" {
			notes = append(notes, "Default: "+f.defDoc+".")
		}
		if text := wrap(joinDesc(f.desc, notes)); text != "" {
			sfields = append(sfields, comment(text)...)
		}
		sfields = append(sfields, jen.Id(f.goName).Add(paramType(f)))
		ref := jen.Id("p").Dot(f.goName)
		switch {
		case f.t.kind == kArray:
			body = append(body, jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Add(ref)).Block(fg.paramSet(f, jen.Id("v"), true)))
		case f.t.kind == kInt || f.t.kind == kBool:
			body = append(body, jen.If(ref.Clone().Op("!=").Nil()).Block(fg.paramSet(f, jen.Op("*").Add(ref.Clone()), false)))
		default:
			body = append(body, jen.If(ref.Clone().Op("!=").Lit("")).Block(fg.paramSet(f, ref.Clone(), false)))
		}
	}
	fg.comment(wrap(fmt.Sprintf("%sParams holds the optional parameters of %s. A nil *%sParams, and any zero field, sends the server's default; integers and booleans are pointers so that 0 and false can be sent.", name, endpointID, name)))
	fg.f.Type().Id(name + "Params").Struct(sfields...)
	fg.f.Line()
	fg.f.Func().Params(jen.Id("p").Op("*").Id(name + "Params")).Id("appendTo").Params(jen.Id("q").Qual("net/url", "Values")).Block(body...)
	fg.f.Line()
}

// body describes a call's input or output.
type body struct {
	none   bool // no body at all
	binary bool // raw bytes, with encoding as its content type
	enc    string
	t      *typ // JSON: object, union or named array type
}

func (fg *fileGen) bodyOf(b *lexicon.SchemaBody, name, jsonPath, defPath string) body {
	if b == nil {
		return body{none: true}
	}
	if b.Encoding != "application/json" || b.Schema == nil {
		return body{binary: true, enc: b.Encoding}
	}
	t := fg.typeOf(b.Schema.Inner, name, jsonPath+"/schema", defPath+".schema")
	return body{t: t, enc: b.Encoding}
}

func (fg *fileGen) emitEndpoint(d *def, name string, params *lexicon.SchemaParams, inputB, outputB *lexicon.SchemaBody, desc string, procedure bool) {
	id := d.schema.ID
	fg.declare(name+"NSID", id)
	kind := "query"
	if procedure {
		kind = "procedure"
	}
	fg.comment(fmt.Sprintf("%sNSID is the NSID of the %s %s.", name, kind, id))
	fg.f.Const().Id(name + "NSID").Op("=").Lit(id)
	fg.f.Line()

	pfields := fg.paramFields(name, params, "main")
	hasParams := !procedure || params != nil
	if hasParams {
		fg.emitParams(name, id, pfields)
	}
	in := fg.bodyOf(inputB, name+"Input", "defs/main/input", "main.input")
	out := fg.bodyOf(outputB, name+"Output", "defs/main/output", "main.output")
	errVars := fg.emitErrors(d, name)
	sig := &endpointSig{pkgPath: fg.p.path, name: name, procedure: procedure, hasParams: hasParams, params: pfields, in: in, out: out}
	if outputB != nil && outputB.Schema != nil {
		if obj, ok := outputB.Schema.Inner.(lexicon.SchemaObject); ok && out.t != nil {
			sig.outFields = fg.fieldsNoEmit(obj, "defs/main/output/schema")
		}
	}
	fg.g.endpoints[id] = sig

	// Signature.
	args := []jen.Code{jen.Id("ctx").Qual("context", "Context"), jen.Id("c").Add(lexQual("Client"))}
	var argDocs []string
	for _, f := range pfields {
		if f.required {
			args = append(args, jen.Id(argName(f.json)).Add(paramType(f)))
			argDocs = append(argDocs, argName(f.json))
		}
	}
	switch {
	case in.binary:
		args = append(args, jen.Id("body").Qual("io", "Reader"))
		if strings.ContainsAny(in.enc, "*,") {
			args = append(args, jen.Id("contentType").String())
		}
	case !in.none:
		args = append(args, jen.Id("input").Add(in.t.base()))
	}
	if hasParams {
		args = append(args, jen.Id("params").Op("*").Id(name+"Params"))
	}
	var results []jen.Code
	switch {
	case out.binary:
		results = []jen.Code{jen.Op("*").Add(lexQual("Stream")), jen.Error()}
	case out.none:
		results = []jen.Code{jen.Error()}
	default:
		results = []jen.Code{out.t.base(), jen.Error()}
	}
	fail := func() jen.Code {
		if len(results) == 1 {
			return jen.Return(jen.Err())
		}
		return jen.Return(jen.Nil(), jen.Err())
	}

	// Body.
	method := "MethodGet"
	if procedure {
		method = "MethodPost"
	}
	var stmts []jen.Code
	stmts = append(stmts, jen.Id("q").Op(":=").Qual("net/url", "Values").Values())
	for _, f := range pfields {
		if !f.required {
			continue
		}
		a := jen.Id(argName(f.json))
		if f.t.kind == kArray {
			stmts = append(stmts, jen.For(jen.List(jen.Id("_"), jen.Id("v")).Op(":=").Range().Add(a)).Block(fg.paramSet(f, jen.Id("v"), true)))
		} else {
			stmts = append(stmts, fg.paramSet(f, a, false))
		}
	}
	if hasParams {
		stmts = append(stmts, jen.Id("params").Dot("appendTo").Call(jen.Id("q")))
	}
	stmts = append(stmts, jen.Id("req").Op(":=").Op("&").Add(lexQual("Request")).Values(jen.Dict{
		jen.Id("Method"): jen.Qual("net/http", method),
		jen.Id("NSID"):   jen.Id(name + "NSID"),
		jen.Id("Params"): jen.Id("q"),
	}))
	switch {
	case in.binary:
		ct := jen.Id("contentType")
		if !strings.ContainsAny(in.enc, "*,") {
			ct = jen.Lit(in.enc)
		}
		stmts = append(stmts, jen.List(jen.Id("req").Dot("Body"), jen.Id("req").Dot("ContentType")).Op("=").List(jen.Id("body"), ct))
	case !in.none:
		if in.t.kind == kObject {
			stmts = append(stmts, jen.If(jen.Id("input").Op("==").Nil()).Block(jen.Id("input").Op("=").New(in.t.qual())))
		}
		var encArg jen.Code = jen.Id("input")
		if in.t.kind == kUnion || in.t.kind == kArray {
			encArg = lexQual("EncodeFunc").Call(jen.Func().Params(jen.Id("e").Op("*").Add(lexQual("Encoder"))).Block(fg.encodeValue(in.t, jen.Id("input"))...))
		}
		stmts = append(stmts,
			jen.List(jen.Id("b"), jen.Err()).Op(":=").Add(lexQual("JSONBody")).Call(encArg),
			jen.If(jen.Err().Op("!=").Nil()).Block(fail()),
			jen.List(jen.Id("req").Dot("Body"), jen.Id("req").Dot("ContentType")).Op("=").List(jen.Id("b"), jen.Lit(in.enc)),
		)
	}
	var errArg jen.Code = jen.Null()
	if errVars != "nil" {
		errArg = jen.Id(errVars).Op("...")
	}
	switch {
	case out.binary:
		stmts = append(stmts, jen.Return(lexQual("CallStream").Call(jen.Id("ctx"), jen.Id("c"), jen.Id("req"), errArg)))
	case out.none:
		stmts = append(stmts, jen.Return(lexQual("Call").Call(jen.Id("ctx"), jen.Id("c"), jen.Id("req"), jen.Nil(), errArg)))
	case out.t.kind == kObject:
		stmts = append(stmts,
			jen.Id("out").Op(":=").New(out.t.qual()),
			jen.If(jen.Err().Op(":=").Add(lexQual("Call")).Call(jen.Id("ctx"), jen.Id("c"), jen.Id("req"), jen.Id("out"), errArg), jen.Err().Op("!=").Nil()).Block(fail()),
			jen.Return(jen.Id("out"), jen.Nil()),
		)
	default:
		stmts = append(stmts,
			jen.Var().Id("out").Add(out.t.base()),
			jen.Id("dec").Op(":=").Add(lexQual("DecodeFunc")).Call(jen.Func().Params(jen.Id("d").Op("*").Add(lexQual("Decoder"))).Block(
				fg.decodeValue(out.t, func(v jen.Code) jen.Code { return jen.Id("out").Op("=").Add(v) })...,
			)),
			jen.If(jen.Err().Op(":=").Add(lexQual("Call")).Call(jen.Id("ctx"), jen.Id("c"), jen.Id("req"), jen.Id("dec"), errArg), jen.Err().Op("!=").Nil()).Block(fail()),
			jen.Return(jen.Id("out"), jen.Nil()),
		)
	}

	fg.declare(name, id)
	head := fmt.Sprintf("%s calls the %s %s.", name, kind, id)
	text := head
	if desc != "" {
		text += " " + joinDesc(desc, nil)
	}
	var extra []string
	if len(argDocs) > 0 {
		extra = append(extra, "Required parameters are arguments ("+strings.Join(argDocs, ", ")+"); optional ones are in params, which may be nil.")
	} else if hasParams && len(pfields) > 0 {
		extra = append(extra, "params may be nil.")
	}
	if out.binary {
		extra = append(extra, "The response body ("+out.enc+") is streamed: read and close it.")
	}
	if in.binary {
		extra = append(extra, "The input is the request body ("+in.enc+").")
	}
	if errVars != "nil" {
		extra = append(extra, "Errors the lexicon declares match the Err"+name+"* variables with errors.Is.")
	}
	text = wrap(joinDesc(text, extra))
	if strings.Contains(strings.ToLower(desc), "deprecated") {
		text += "\n\nDeprecated: the lexicon marks this endpoint as deprecated; see above."
	}
	fg.comment(text)
	fg.f.Func().Id(name).Params(args...).Params(results...).Block(stmts...)
	fg.f.Line()
	if !procedure && hasCursor(pfields, outputB) && out.t != nil && out.t.kind == kObject {
		fg.emitPages(name, id, pfields, out.t)
		sig.pages = true
	}
}

// fieldsNoEmit returns the names and array element types of an output
// object's members, for item iterators, without emitting anything again.
func (fg *fileGen) fieldsNoEmit(obj lexicon.SchemaObject, jsonPath string) []*field {
	var out []*field
	for _, k := range fg.sc.keys(jsonPath+"/properties", mapKeys(obj.Properties)) {
		arr, ok := obj.Properties[k].Inner.(lexicon.SchemaArray)
		if !ok {
			continue
		}
		var elem *typ
		switch n := arr.Items.Inner.(type) {
		case lexicon.SchemaRef:
			elem = fg.refType(n.Ref, "main.output")
		case lexicon.SchemaString:
			if len(n.KnownValues) > 0 || len(n.Enum) > 0 {
				continue
			}
			elem = &typ{kind: kString}
		default:
			continue
		}
		out = append(out, &field{json: k, goName: exported(k), t: &typ{kind: kArray, elem: elem}})
	}
	return out
}

// hasCursor reports whether a query is cursor-paginated: an optional
// string parameter "cursor" and a string "cursor" in its output object.
func hasCursor(params []*field, out *lexicon.SchemaBody) bool {
	ok := false
	for _, f := range params {
		if f.json == "cursor" && !f.required && f.t.kind == kString && !f.t.named() {
			ok = true
		}
	}
	if !ok || out == nil || out.Schema == nil {
		return false
	}
	obj, isObj := out.Schema.Inner.(lexicon.SchemaObject)
	if !isObj {
		return false
	}
	c, has := obj.Properties["cursor"]
	if !has {
		return false
	}
	_, isStr := c.Inner.(lexicon.SchemaString)
	return isStr
}

// emitPages emits an iterator over the pages of a paginated query.
func (fg *fileGen) emitPages(name, id string, pfields []*field, out *typ) {
	fn := name + "Pages"
	fg.declare(fn, id+" pages")
	args := []jen.Code{jen.Id("ctx").Qual("context", "Context"), jen.Id("c").Add(lexQual("Client"))}
	call := []jen.Code{jen.Id("ctx"), jen.Id("c")}
	for _, f := range pfields {
		if f.required {
			args = append(args, jen.Id(argName(f.json)).Add(paramType(f)))
			call = append(call, jen.Id(argName(f.json)))
		}
	}
	args = append(args, jen.Id("params").Op("*").Id(name+"Params"))
	call = append(call, jen.Op("&").Id("p"))
	fg.comment(wrap(fmt.Sprintf("%s iterates over the pages of %s, following cursors from params.Cursor until the server returns none. params is not modified. An error ends the iteration.", fn, name)))
	fg.f.Func().Id(fn).Params(args...).Qual("iter", "Seq2").Types(out.base(), jen.Error()).Block(
		jen.Var().Id("p").Id(name+"Params"),
		jen.If(jen.Id("params").Op("!=").Nil()).Block(jen.Id("p").Op("=").Op("*").Id("params")),
		jen.Return(lexQual("Pages").Call(jen.Id("p").Dot("Cursor"), jen.Func().Params(jen.Id("cursor").String()).Params(out.base(), jen.String(), jen.Error()).Block(
			jen.Id("p").Dot("Cursor").Op("=").Id("cursor"),
			jen.List(jen.Id("out"), jen.Err()).Op(":=").Id(name).Call(call...),
			jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Lit(""), jen.Err())),
			jen.Return(jen.Id("out"), jen.Id("out").Dot("GetCursor").Call(), jen.Nil()),
		))),
	)
	fg.f.Line()
}

// emitErrors emits the declared errors of an endpoint and returns the name
// of the slice holding them ("nil" if none).
func (fg *fileGen) emitErrors(d *def, name string) string {
	errs := endpointErrors(d)
	if len(errs) == 0 {
		return "nil"
	}
	var vars []jen.Code
	var list []jen.Code
	seen := map[string]bool{}
	for _, e := range errs {
		if seen[e.Name] {
			continue
		}
		seen[e.Name] = true
		vn := "Err" + name + exported(e.Name)
		fg.declare(vn, d.schema.ID+" error "+e.Name)
		desc := ptrStr(e.Description)
		vars = append(vars, comment(doc(fmt.Sprintf("%s is the error %s that %s declares.", vn, e.Name, d.schema.ID), desc))...)
		vars = append(vars,
			jen.Id(vn).Op("=").Op("&").Add(lexQual("KnownError")).Values(jen.Dict{
				jen.Id("NSID"):        jen.Lit(d.schema.ID),
				jen.Id("Name"):        jen.Lit(e.Name),
				jen.Id("Description"): jen.Lit(desc),
			}),
		)
		list = append(list, jen.Id(vn))
	}
	fg.f.Var().Defs(vars...)
	fg.f.Line()
	sl := lowerFirst(name) + "Errors"
	fg.f.Var().Id(sl).Op("=").Index().Op("*").Add(lexQual("KnownError")).Values(list...)
	fg.f.Line()
	return sl
}

func lowerFirst(s string) string {
	// Lower the leading run of capitals of an initialism too: DIDFoo → didFoo.
	rs := []rune(s)
	for i := range rs {
		if i > 0 && i+1 < len(rs) && !isUpper(rs[i+1]) {
			break
		}
		if !isUpper(rs[i]) {
			break
		}
		rs[i] = rs[i] + ('a' - 'A')
	}
	return string(rs)
}

func isUpper(r rune) bool { return 'A' <= r && r <= 'Z' }

func (fg *fileGen) emitSubscription(d *def, name string, n lexicon.SchemaSubscription) {
	id := d.schema.ID
	fg.declare(name+"NSID", id)
	fg.comment(doc(fmt.Sprintf("%sNSID is the NSID of the subscription %s.", name, id), ptrStr(n.Description)))
	fg.f.Const().Id(name + "NSID").Op("=").Lit(id)
	fg.f.Line()
	fg.emitParams(name, id, fg.paramFields(name, n.Parameters, "main"))
	fg.emitErrors(d, name)
	u := fg.emitUnion(name+"Message", n.Message.Schema, "main.message.schema")
	// Frame types ("#commit") to message types.
	var cases []jen.Code
	for _, ref := range n.Message.Schema.Refs {
		t := fg.refType(ref, "main.message.schema")
		if t.kind != kObject {
			continue
		}
		frame := ref
		if i := strings.Index(ref, "#"); i > 0 {
			if ref[:i] != id {
				continue
			}
			frame = ref[i:]
		}
		cases = append(cases, jen.Case(jen.Lit(frame)).Block(jen.Return(jen.New(t.qual()))))
	}
	cases = append(cases, jen.Default().Block(jen.Return(jen.Nil())))
	fn := "New" + name + "Message"
	fg.declare(fn, id+" message constructor")
	fg.comment(wrap(fmt.Sprintf("%s returns a new value for the event-stream frame type t (\"#commit\", ...) of %s, or nil if the type is unknown.", fn, id)))
	fg.f.Func().Id(fn).Params(jen.Id("t").String()).Id(u.name).Block(jen.Switch(jen.Id("t")).Block(cases...))
	fg.f.Line()
}
