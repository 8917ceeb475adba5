package gen_test

import (
	"testing"

	"github.com/atpgo/atp/gen"
	"github.com/atpgo/atp/lexicons"
)

// benchConfig is what cmd/lexgen uses for this repository.
var benchConfig = gen.Config{ImportPath: "github.com/atpgo/atp/agent"}

// BenchmarkGenerate generates the whole corpus (lexicons.FS) each
// iteration: gen.Generate over a set loaded once, and, as
// BenchmarkGenerate/load+generate, gen.Load and gen.Generate together (what
// one run of cmd/lexgen costs, minus writing). It reports the number of
// files and bytes generated per run.
func BenchmarkGenerate(b *testing.B) {
	b.Run("generate", func(b *testing.B) {
		set, err := gen.Load(lexicons.FS, ".")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var files []gen.File
		for b.Loop() {
			files, err = gen.Generate(set, nil, benchConfig)
			if err != nil {
				b.Fatal(err)
			}
		}
		reportFiles(b, files)
	})
	b.Run("load+generate", func(b *testing.B) {
		b.ReportAllocs()
		var files []gen.File
		for b.Loop() {
			set, err := gen.Load(lexicons.FS, ".")
			if err != nil {
				b.Fatal(err)
			}
			files, err = gen.Generate(set, nil, benchConfig)
			if err != nil {
				b.Fatal(err)
			}
		}
		reportFiles(b, files)
	})
}

// BenchmarkLoad parses and checks the whole corpus each iteration.
func BenchmarkLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gen.Load(lexicons.FS, "."); err != nil {
			b.Fatal(err)
		}
	}
}

func reportFiles(b *testing.B, files []gen.File) {
	n := 0
	for _, f := range files {
		n += len(f.Content)
	}
	b.ReportMetric(float64(len(files)), "files/op")
	b.ReportMetric(float64(n), "genbytes/op")
}
