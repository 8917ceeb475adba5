// Command lexgen generates Go packages from atproto lexicons, and keeps the
// repository's copy of the lexicons in sync with the pinned indigo module.
//
// Usage:
//
//	lexgen [-lexicons DIR] [-out DIR] [-check] [-import NSIDPREFIX=GOIMPORTPATH ...] [-package AUTHORITY=NAME ...]
//	lexgen sync [-dir DIR] [-check]
//
// With no flags, run from this repository's root, lexgen regenerates the
// packages under agent/ from lexicons/. With -check it writes nothing and
// exits non-zero after naming every stale, missing or extra generated file.
//
// To generate your own lexicons, point -lexicons at them and -out at a
// directory of your module:
//
//	lexgen -lexicons ./mylex -out ./mygen
//
// References into the atproto lexicons (com.atproto, app.bsky, chat.bsky,
// tools.ozone, ...) use this module's generated packages by default;
// -import maps a prefix to another package:
//
//	lexgen -lexicons ./mylex -out ./mygen -import com.atproto=github.com/atpgo/atp/agent/atproto
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/atpgo/atp/gen"
	"github.com/atpgo/atp/lexicons"
)

// ownImportPath is where this module's generated packages live.
const ownImportPath = "github.com/atpgo/atp/agent"

func main() {
	ctx := context.Background()
	var err error
	if len(os.Args) > 1 && os.Args[1] == "sync" {
		err = runSync(ctx, os.Args[2:])
	} else {
		err = run(os.Args[1:])
	}
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// mapFlag collects repeated KEY=VALUE flags.
type mapFlag map[string]string

func (m mapFlag) String() string { return fmt.Sprint(map[string]string(m)) }

func (m mapFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	m[k] = v
	return nil
}

func run(args []string) error {
	fl := flag.NewFlagSet("lexgen", flag.ContinueOnError)
	lexDir := fl.String("lexicons", "lexicons", "`directory` of lexicon JSON files to generate")
	outDir := fl.String("out", "agent", "output `directory`; each lexicon authority becomes a package below it")
	check := fl.Bool("check", false, "write nothing; exit non-zero and name every stale, missing or extra file")
	importPath := fl.String("importpath", "", "Go import `path` of -out (default: derived from the enclosing go.mod)")
	agentList := fl.String("agent", "agent_methods.txt", "`file` listing the short Agent methods to generate into agent_gen.go beside it; ignored if it does not exist")
	imports := mapFlag{}
	fl.Var(imports, "import", "map an NSID `prefix=importpath` to a package generated elsewhere (repeatable)")
	packages := mapFlag{}
	fl.Var(packages, "package", "name the Go package of an `authority=name` (repeatable)")
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "usage: lexgen [flags]\n       lexgen sync [-dir DIR] [-check]\n\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return fmt.Errorf("lexgen: unexpected arguments %q", fl.Args())
	}
	if *importPath == "" {
		p, err := modulePath(*outDir)
		if err != nil {
			return err
		}
		*importPath = p
	}

	// The atproto lexicons this binary embeds resolve references the
	// lexicons being generated make into them.
	builtin, err := gen.Load(lexicons.FS, ".")
	if err != nil {
		return fmt.Errorf("lexgen: embedded lexicons: %w", err)
	}
	set, err := gen.Load(os.DirFS(*lexDir), ".", builtin)
	if err != nil {
		return fmt.Errorf("lexgen: %w", err)
	}
	cfg := gen.Config{ImportPath: *importPath, Imports: map[string]string{}, Packages: packages}
	local := map[string]bool{}
	for _, sc := range set.Schemas() {
		local[gen.Authority(sc.ID)] = true
	}
	for _, sc := range builtin.Schemas() {
		if a := gen.Authority(sc.ID); !local[a] {
			cfg.Imports[a] = ownImportPath + "/" + gen.PackageName(a)
		}
	}
	for k, v := range imports {
		cfg.Imports[k] = v
	}
	if b, err := os.ReadFile(*agentList); err == nil {
		ac, err := agentConfig(*agentList, b, *outDir)
		if err != nil {
			return err
		}
		cfg.Agent = ac
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	files, err := gen.Generate(set, builtin, cfg)
	if err != nil {
		return fmt.Errorf("lexgen: %w", err)
	}
	if *check {
		stale, extra, err := gen.Diff(*outDir, files)
		if err != nil {
			return err
		}
		for _, p := range stale {
			fmt.Fprintf(os.Stderr, "lexgen: stale or missing: %s\n", filepath.Join(*outDir, p))
		}
		for _, p := range extra {
			fmt.Fprintf(os.Stderr, "lexgen: no longer generated: %s\n", filepath.Join(*outDir, p))
		}
		if n := len(stale) + len(extra); n > 0 {
			return fmt.Errorf("lexgen: %d generated files are out of date; run go run ./cmd/lexgen", n)
		}
		fmt.Fprintf(os.Stderr, "lexgen: %d files in %s are current\n", len(files), *outDir)
		return nil
	}
	return gen.WriteFiles(*outDir, files)
}

// agentConfig builds the generator's Agent settings from a method list:
// the methods go into agent_gen.go in the list's directory and package,
// on the type Agent.
func agentConfig(listPath string, list []byte, outDir string) (*gen.AgentConfig, error) {
	methods, err := gen.ParseAgentMethods(string(list))
	if err != nil {
		return nil, fmt.Errorf("lexgen: %s: %w", listPath, err)
	}
	dir := filepath.Dir(listPath)
	pkgPath, err := modulePath(dir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(outDir, filepath.Join(dir, "agent_gen.go"))
	if err != nil {
		return nil, err
	}
	return &gen.AgentConfig{
		Path:    filepath.ToSlash(rel),
		PkgPath: pkgPath,
		PkgName: pkgPath[strings.LastIndex(pkgPath, "/")+1:],
		Type:    "Agent",
		Methods: methods,
	}, nil
}

// moduleLine returns the module path declared in a go.mod file.
func moduleLine(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// modulePath returns the import path of dir from the nearest go.mod above it.
func modulePath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			mp := moduleLine(b)
			if mp == "" {
				return "", fmt.Errorf("lexgen: %s has no module line", filepath.Join(d, "go.mod"))
			}
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				return mp, nil
			}
			return mp + "/" + filepath.ToSlash(rel), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("lexgen: no go.mod above %s; pass -importpath", abs)
		}
	}
}
