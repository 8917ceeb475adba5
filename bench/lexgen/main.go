// Command lexgen compares the speed of this module's generator (package
// github.com/atpgo/atp/gen) with indigo's new generator package
// (github.com/bluesky-social/indigo/lex/lexgen, from the indigo version
// pinned in go.mod) on the same lexicon corpus, in the same process.
//
// Each side goes from the JSON files on disk to gofmt'd Go source in
// memory; nothing is written:
//
//   - ours: gen.Load (parse, check, resolve every reference) and
//     gen.Generate (build with jennifer, gofmt; rendering runs on
//     GOMAXPROCS goroutines);
//   - indigo: parse every file and add it to a lexicon.BaseCatalog (what
//     BaseCatalog.LoadDirectory does, minus lexicons/manifest.json, which is
//     not a lexicon), then per file lexgen.FlattenSchemaFile,
//     CodeGenerator{Config: LegacyConfig()}.WriteLexicon and
//     imports.Process(filename, src, nil), which is how indigo's own
//     cmd/lexgen formats its output (lex/gen.go, writeCodeFile). indigo
//     runs it file by file on one goroutine ("indigo"); the same pipeline
//     fanned out over GOMAXPROCS goroutines is measured too
//     ("indigo-par"), so that our parallel rendering is not the only
//     difference.
//
// Rounds are interleaved (ours, indigo, indigo-par, then the next round in
// another order) after one warm-up round, and the medians are compared.
//
// Usage, from the repository root:
//
//	go run ./bench/lexgen [-rounds 7] [-lexicons lexicons] [-new] [-cpuprofile FILE]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atpgo/atp/gen"
	"github.com/bluesky-social/indigo/atproto/lexicon"
	"github.com/bluesky-social/indigo/lex/lexgen"
	"golang.org/x/tools/imports"
)

// exactGoimports is the -exact-goimports flag.
var exactGoimports bool

// result is what one run of one generator produced.
type result struct {
	files, bytes, failed int
	total                time.Duration
	cpu                  time.Duration // user+system CPU time of the process during the run
	load, codegen, fmt   time.Duration // serial indigo only
}

func main() {
	rounds := flag.Int("rounds", 7, "timed `rounds` (after one warm-up round)")
	dir := flag.String("lexicons", "lexicons", "lexicon `directory`")
	newCfg := flag.Bool("new", false, "run indigo with NewGenConfig() instead of LegacyConfig()")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed rounds of our generator only to `file`")
	verbose := flag.Bool("v", false, "print indigo's log output")
	flag.BoolVar(&exactGoimports, "exact-goimports", false, "format indigo's output with imports.Process(filename, src, nil) as built here (x/tools v0.52.0: runs `go env` for every file); see goimports.go")
	flag.Parse()
	if !*verbose {
		// indigo logs "unhandled external reference" for refs outside its
		// four hard-coded package mappings (site.standard.*).
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "lexgen bench: -rounds must be at least 1")
		os.Exit(2)
	}
	mkCfg := lexgen.LegacyConfig
	cfgName := "LegacyConfig"
	if *newCfg {
		mkCfg, cfgName = lexgen.NewGenConfig, "NewGenConfig"
	}
	workers := runtime.GOMAXPROCS(0)
	outDir, err := os.MkdirTemp("", "indigo-lexgen-")
	check(err)
	defer os.RemoveAll(outDir)

	type side struct {
		name string
		run  func() (result, error)
	}
	sides := []side{
		{"ours", func() (result, error) { return runOurs(*dir) }},
		{"indigo", func() (result, error) { return runIndigo(*dir, outDir, mkCfg, 1) }},
		{"indigo-par", func() (result, error) { return runIndigo(*dir, outDir, mkCfg, workers) }},
	}

	fmt.Printf("corpus %s, %s, GOMAXPROCS=%d, indigo %s, %d rounds after 1 warm-up\n",
		*dir, runtime.Version(), workers, cfgName, *rounds)
	times := map[string][]time.Duration{}
	cpus := map[string][]time.Duration{}
	var last map[string]result
	var prof *os.File
	for r := 0; r <= *rounds; r++ {
		order := slices.Clone(sides)
		// Rotate the order each round so no side always runs first.
		for range r % len(order) {
			order = append(order[1:], order[0])
		}
		cur := map[string]result{}
		for _, s := range order {
			runtime.GC()
			if s.name == "ours" && r > 0 && *cpuprofile != "" {
				if prof == nil {
					prof, err = os.Create(*cpuprofile)
					check(err)
				}
				check(pprof.StartCPUProfile(prof))
			}
			cpu0 := cpuTime()
			res, err := s.run()
			res.cpu = cpuTime() - cpu0
			if s.name == "ours" && prof != nil {
				pprof.StopCPUProfile()
			}
			check(err)
			cur[s.name] = res
			if r > 0 {
				times[s.name] = append(times[s.name], res.total)
				cpus[s.name] = append(cpus[s.name], res.cpu)
			}
		}
		label := fmt.Sprintf("round %d", r)
		if r == 0 {
			label = "warm-up"
		}
		fmt.Printf("%-8s ours %7.1f ms   indigo %7.1f ms (load %.0f, codegen %.0f, goimports %.0f)   indigo-par %7.1f ms   ours/indigo %.2f   ours/indigo-par %.2f\n",
			label, ms(cur["ours"].total), ms(cur["indigo"].total),
			ms(cur["indigo"].load), ms(cur["indigo"].codegen), ms(cur["indigo"].fmt),
			ms(cur["indigo-par"].total),
			ratio(cur["ours"].total, cur["indigo"].total), ratio(cur["ours"].total, cur["indigo-par"].total))
		last = cur
	}
	if prof != nil {
		check(prof.Close())
	}
	fmt.Println()
	for _, name := range []string{"ours", "indigo", "indigo-par"} {
		res := last[name]
		ts := times[name]
		fmt.Printf("%-10s median %7.1f ms  (min %7.1f, max %7.1f)  CPU %7.1f ms  %d files, %d bytes, %.0f ns/byte", name,
			ms(median(ts)), ms(slices.Min(ts)), ms(slices.Max(ts)), ms(median(cpus[name])), res.files, res.bytes,
			float64(median(ts))/float64(res.bytes))
		if res.failed > 0 {
			fmt.Printf(", %d files failed", res.failed)
		}
		fmt.Println()
	}
	fmt.Printf("ratio ours/indigo     %.2f (median of per-round ratios %.2f)\n",
		ratio(median(times["ours"]), median(times["indigo"])), medianRatio(times["ours"], times["indigo"]))
	fmt.Printf("ratio ours/indigo-par %.2f (median of per-round ratios %.2f)\n",
		ratio(median(times["ours"]), median(times["indigo-par"])), medianRatio(times["ours"], times["indigo-par"]))
	fmt.Printf("CPU time ratio ours/indigo %.2f (both sides' CPU time counts, GC included)\n",
		ratio(median(cpus["ours"]), median(cpus["indigo"])))
	fmt.Printf("ours writes %.1fx indigo's bytes; time per output byte, ours/indigo %.2f\n",
		float64(last["ours"].bytes)/float64(last["indigo"].bytes),
		ratio(median(times["ours"]), median(times["indigo"]))*float64(last["indigo"].bytes)/float64(last["ours"].bytes))
}

// runOurs loads and generates the corpus with package gen, as cmd/lexgen
// does for this repository.
func runOurs(dir string) (result, error) {
	start := time.Now()
	set, err := gen.Load(os.DirFS(dir), ".")
	if err != nil {
		return result{}, err
	}
	files, err := gen.Generate(set, nil, gen.Config{ImportPath: "github.com/atpgo/atp/agent"})
	if err != nil {
		return result{}, err
	}
	res := result{total: time.Since(start), files: len(files)}
	for _, f := range files {
		res.bytes += len(f.Content)
	}
	return res, nil
}

// runIndigo loads the corpus into an indigo catalog and generates and
// formats every file with indigo's lex/lexgen on the given number of
// goroutines. Files that fail are counted, not fatal.
func runIndigo(dir, outDir string, mkCfg func() *lexgen.GenConfig, workers int) (result, error) {
	var res result
	start := time.Now()
	files, cat, err := loadIndigo(dir)
	if err != nil {
		return res, err
	}
	res.load = time.Since(start)

	type out struct {
		n                int
		err              error
		codegen, gofmted time.Duration
	}
	outs := make([]out, len(files))
	work := func(i int) {
		t0 := time.Now()
		fl, err := lexgen.FlattenSchemaFile(files[i])
		if err != nil {
			outs[i].err = err
			return
		}
		var buf bytes.Buffer
		cg := lexgen.CodeGenerator{Config: mkCfg(), Lex: fl, Cat: cat, Out: &buf}
		if err := cg.WriteLexicon(); err != nil {
			outs[i].err = err
			return
		}
		t1 := time.Now()
		fname := filepath.Join(outDir, cg.PkgName(), cg.FileName())
		var src []byte
		if exactGoimports {
			src, err = imports.Process(fname, buf.Bytes(), nil)
		} else {
			src, err = goimports(fname, buf.Bytes(), fl)
		}
		outs[i].codegen, outs[i].gofmted = t1.Sub(t0), time.Since(t1)
		if err != nil {
			outs[i].err = err
			return
		}
		outs[i].n = len(src)
	}
	if workers <= 1 {
		for i := range files {
			work(i)
		}
	} else {
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					work(i)
				}
			})
		}
		for i := range files {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	res.total = time.Since(start)
	var errs []error
	for _, o := range outs {
		res.codegen += o.codegen
		res.fmt += o.gofmted
		if o.err != nil {
			res.failed++
			errs = append(errs, o.err)
			continue
		}
		res.files++
		res.bytes += o.n
	}
	if res.files == 0 {
		return res, errors.Join(errs...)
	}
	return res, nil
}

// loadIndigo parses every lexicon file under dir and adds it to an indigo
// catalog, as lexicon.BaseCatalog.LoadDirectory does, skipping
// manifest.json, which is not a lexicon.
func loadIndigo(dir string) ([]*lexicon.SchemaFile, *lexicon.BaseCatalog, error) {
	cat := lexicon.NewBaseCatalog()
	var files []*lexicon.SchemaFile
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".json") || filepath.Base(p) == "manifest.json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var sf lexicon.SchemaFile
		if err := json.Unmarshal(b, &sf); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		// AddSchemaFile finishes parsing (filling in the Defs map, which
		// sf shares) and checks the schema.
		if err := cat.AddSchemaFile(sf); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, &sf)
		return nil
	})
	return files, cat, err
}

// cpuTime returns the user and system CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(ts []time.Duration) time.Duration {
	s := slices.Clone(ts)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianRatio is the median of a[i]/b[i], each pair from the same round.
func medianRatio(a, b []time.Duration) float64 {
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = ratio(a[i], b[i])
	}
	slices.Sort(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "lexgen bench:", err)
		os.Exit(1)
	}
}
