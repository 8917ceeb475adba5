package lexsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ModulePath is the Go module whose lexicons/ directory Sync copies.
const ModulePath = "github.com/bluesky-social/indigo"

// Module is the upstream module a sync copies from.
type Module struct {
	// Path is the module path, normally ModulePath.
	Path string
	// Version is the version the main module's go.mod selects.
	Version string
	// Replace describes a replace directive that applies to the module,
	// as "path" or "path version"; it is empty when there is none.
	Replace string
	// Dir is the root directory of the module's files (in the module
	// cache, or the replacement directory).
	Dir string
}

// String returns "path@version", with the replacement when there is one.
func (m Module) String() string {
	s := m.Path + "@" + m.Version
	if m.Replace != "" {
		s += " => " + m.Replace
	}
	return s
}

// goListModule is the subset of `go list -m -json` and `go mod download
// -json` output that Locate reads.
type goListModule struct {
	Path    string
	Version string
	Dir     string
	Replace *goListModule
	Error   *goError
}

// goError is the Error field of go list -m -json (an object with an Err
// field) or of go mod download -json (a string).
type goError string

// UnmarshalJSON accepts both forms.
func (e *goError) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*e = goError(s)
		return nil
	}
	var o struct{ Err string }
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*e = goError(o.Err)
	return nil
}

// Locate asks the go command which version of ModulePath the main module
// (the one containing the current directory) requires, downloads it into the
// module cache if it is not there yet, and returns where its files are.
func Locate(ctx context.Context) (Module, error) {
	gm, err := goModuleJSON(ctx, "list", "-m", "-json", "--", ModulePath)
	if err != nil {
		return Module{}, err
	}
	mod := Module{Path: gm.Path, Version: gm.Version, Dir: gm.Dir}
	fetch := gm.Path + "@" + gm.Version
	if r := gm.Replace; r != nil {
		mod.Replace = strings.TrimSpace(r.Path + " " + r.Version)
		mod.Dir = r.Dir
		fetch = r.Path + "@" + r.Version
	}
	if mod.Dir == "" {
		// go list -m reports a directory only for modules already in the
		// module cache; go mod download fetches (and checks against
		// go.sum) the exact version go list selected.
		dl, err := goModuleJSON(ctx, "mod", "download", "-json", "--", fetch)
		if err != nil {
			return Module{}, err
		}
		mod.Dir = dl.Dir
	}
	if mod.Dir == "" {
		return Module{}, fmt.Errorf("lexsync: the go command reported no directory for %s", mod)
	}
	// Read the main module's go.mod ourselves: the version above comes from
	// it, and go test only invalidates a cached result when a file the test
	// process itself opened has changed.
	var gomod bytes.Buffer
	if err := runGo(ctx, &gomod, "env", "GOMOD"); err != nil {
		return Module{}, err
	}
	if p := strings.TrimSpace(gomod.String()); p != "" && p != os.DevNull {
		if _, err := os.ReadFile(p); err != nil {
			return Module{}, fmt.Errorf("lexsync: %w", err)
		}
	}
	return mod, nil
}

// goModuleJSON runs a go command that prints one module as JSON.
func goModuleJSON(ctx context.Context, args ...string) (goListModule, error) {
	var out bytes.Buffer
	var gm goListModule
	runErr := runGo(ctx, &out, args...)
	// go mod download -json reports a failure inside its JSON output (and
	// exits non-zero); go list -m -json may too. Prefer that message.
	if err := json.Unmarshal(out.Bytes(), &gm); err != nil {
		if runErr != nil {
			return gm, runErr
		}
		return gm, fmt.Errorf("lexsync: reading output of go %s: %w", strings.Join(args, " "), err)
	}
	if gm.Error != nil {
		return gm, fmt.Errorf("lexsync: go %s: %s", strings.Join(args, " "), *gm.Error)
	}
	return gm, runErr
}

func runGo(ctx context.Context, stdout *bytes.Buffer, args ...string) error {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout = stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("lexsync: go %s: %w", strings.Join(args, " "), ctxErr)
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "(no output)"
		}
		return fmt.Errorf("lexsync: go %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}
