package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/atpgo/atp/internal/lexsync"
)

// runSync implements `lexgen sync [-dir DIR] [-check]`: it copies the
// lexicons of the github.com/bluesky-social/indigo version pinned in go.mod
// into DIR, or with -check verifies DIR against them without writing. It
// returns flag.ErrHelp after printing usage for -h, and a *lexsync.MismatchError
// (matching lexsync.ErrOutOfSync) when -check finds differences.
func runSync(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("lexgen sync", flag.ContinueOnError)
	dir := fs.String("dir", "lexicons", "lexicon `directory` to write or check")
	check := fs.Bool("check", false, "verify the directory against the pinned module instead of writing it; exit non-zero and list every difference")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lexgen sync [-dir DIR] [-check]\n\n"+
			"Copies every lexicon JSON file of the %s version pinned in go.mod\n"+
			"into DIR, with its license notices and a manifest.json.\n"+
			"To update: go get %s@VERSION, then lexgen sync, then lexgen.\n\n", lexsync.ModulePath, lexsync.ModulePath)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("lexgen sync: unexpected arguments %q", fs.Args())
	}
	if *check {
		if err := lexsync.Verify(ctx, *dir); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "lexgen sync: %s matches the pinned %s\n", *dir, lexsync.ModulePath)
		return nil
	}
	m, err := lexsync.Sync(ctx, *dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "lexgen sync: %d lexicons of %s@%s in %s\n", m.Files, m.Module, m.Version, *dir)
	return nil
}
