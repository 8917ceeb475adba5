package main

import (
	"bytes"
	"go/scanner"
	"go/token"
	"path"
	"strconv"
	"strings"

	"github.com/bluesky-social/indigo/lex/lexgen"
	"golang.org/x/tools/imports"
)

// goimports formats the output of indigo's CodeGenerator as indigo's
// cmd/lexgen does, with imports.Process(filename, src, nil), but without
// the cost that x/tools adds when built in this module.
//
// indigo pins golang.org/x/tools v0.15.0, whose imports.Process only runs
// the go command when a file has references it cannot resolve from its own
// imports. This module needs x/tools v0.52.0 (modernc.org/libc requires
// it), whose imports.Process runs `go env -json` on every call (about
// 10 ms, ten times the formatting itself), which would dominate indigo's
// time. indigo's CodeGenerator writes every import a file can need
// (context, fmt, io, bytes, encoding/json, lexutil, cbg, and the api/*
// packages of its external references), so for it imports.Process amounts
// to: delete the unused imports, then format. goimports does exactly that
// here, textually (one go/scanner pass finds the package names used as
// selectors), and formats with imports.Process in FormatOnly mode; files
// with external references indigo cannot map (site.standard.*), where
// goimports would go looking for packages, go through the full
// imports.Process. TestGoimportsMatchesImportsProcess checks that the
// result is byte-for-byte what imports.Process(filename, src, nil) gives,
// on the whole corpus.
func goimports(fname string, src []byte, fl *lexgen.FlatLexicon) ([]byte, error) {
	for ref := range fl.ExternalRefs {
		if !mappedByIndigo(ref) {
			return imports.Process(fname, src, nil)
		}
	}
	start := bytes.Index(src, []byte("\nimport (\n"))
	if start < 0 {
		return imports.Process(fname, src, nil)
	}
	start += len("\nimport (\n")
	n := bytes.Index(src[start:], []byte("\n)\n"))
	if n < 0 {
		return imports.Process(fname, src, nil)
	}
	end := start + n + 1 // just after the last import line's newline
	used := selectorNames(src[end:])

	out := make([]byte, 0, len(src))
	out = append(out, src[:start]...)
	for line := range bytes.Lines(src[start:end]) {
		name, ok := importName(string(bytes.TrimSpace(line)))
		if !ok || used[name] {
			out = append(out, line...)
		}
	}
	out = append(out, src[end:]...)
	return imports.Process(fname, out, &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
}

// mappedByIndigo reports whether indigo's CodeGenerator imports a package
// for an external reference (lex/lexgen/codegen.go, deps).
func mappedByIndigo(ref string) bool {
	for _, p := range []string{"com.atproto.", "app.bsky.", "tools.ozone.", "chat.bsky."} {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return false
}

// importName returns the name an import spec line (`"fmt"`, `cbg
// "github.com/whyrusleeping/cbor-gen"`) binds, assuming, as goimports
// does on its first pass, that a package is named after the last element
// of its path.
func importName(spec string) (string, bool) {
	name, quoted, ok := strings.Cut(spec, " ")
	if !ok {
		name, quoted = "", spec
	}
	p, err := strconv.Unquote(strings.TrimSpace(quoted))
	if err != nil {
		return "", false
	}
	if name != "" {
		return name, true
	}
	return path.Base(p), true
}

// selectorNames returns the identifiers that appear before a "." in src:
// every package name src uses (and some variables).
func selectorNames(src []byte) map[string]bool {
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile("", -1, len(src)), src, nil, 0)
	used := map[string]bool{}
	prev := ""
	for {
		_, tok, lit := s.Scan()
		switch tok {
		case token.EOF:
			return used
		case token.PERIOD:
			if prev != "" {
				used[prev] = true
			}
		}
		prev = ""
		if tok == token.IDENT {
			prev = lit
		}
	}
}
