package gen_test

import (
	"fmt"
	"log"
	"strings"
	"testing/fstest"

	"github.com/atpgo/atp/gen"
	"github.com/atpgo/atp/lexicons"
)

// Generating Go from a third-party lexicon whose record refers to
// com.atproto.repo.strongRef: the reference is typed with this module's
// atproto package.
func ExampleGenerate() {
	mine := fstest.MapFS{"com/example/bookmark.json": {Data: []byte(`{
		"lexicon": 1, "id": "com.example.bookmark",
		"defs": {"main": {"type": "record", "key": "tid", "record": {"type": "object",
			"required": ["subject"],
			"properties": {"subject": {"type": "ref", "ref": "com.atproto.repo.strongRef"}}}}}}`)}}

	builtin, err := gen.Load(lexicons.FS, ".")
	if err != nil {
		log.Fatal(err)
	}
	set, err := gen.Load(mine, ".", builtin)
	if err != nil {
		log.Fatal(err)
	}
	files, err := gen.Generate(set, builtin, gen.Config{
		ImportPath: "example.com/app/lexgen",
		Imports:    map[string]string{"com.atproto": "github.com/atpgo/atp/agent/atproto"},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		fmt.Println(f.Path)
		for _, line := range strings.Split(string(f.Content), "\n") {
			if strings.Contains(line, "Subject *atproto") {
				fmt.Println(strings.Join(strings.Fields(line), " "))
			}
		}
	}
	// Output:
	// example/bookmark.go
	// Subject *atproto.RepoStrongRef `json:"subject"`
	// example/doc.go
}
