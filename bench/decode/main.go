// Command decode compares decoding an app.bsky.feed.getTimeline response
// of 100 posts (see timeline.go) into this module's generated types
// (bsky.FeedGetTimelineOutput, with lex.Unmarshal) and into indigo's
// (github.com/bluesky-social/indigo/api/bsky FeedGetTimeline_Output, with
// encoding/json, which is how indigo's XRPC client decodes responses), in
// the same process. Decoding into map[string]any with encoding/json is
// measured too, as a reference point.
//
// It runs testing.Benchmark for each decoder in interleaved rounds and
// prints the median time and allocations per decode and the ratios
// ours/indigo. The same benchmarks run under go test:
//
//	go test -run '^$' -bench . -benchmem ./bench/decode
//
// Usage, from the repository root:
//
//	go run ./bench/decode [-rounds 7] [-posts 100] [-dump FILE]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/atpgo/atp/agent/bsky"
	"github.com/atpgo/atp/agent/lex"
	ibsky "github.com/bluesky-social/indigo/api/bsky"
)

func decodeOurs(data []byte) (*bsky.FeedGetTimelineOutput, error) {
	var out bsky.FeedGetTimelineOutput
	if err := lex.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func decodeIndigo(data []byte) (*ibsky.FeedGetTimeline_Output, error) {
	var out ibsky.FeedGetTimeline_Output
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func decodeAny(data []byte) (any, error) {
	var out any
	err := json.Unmarshal(data, &out)
	return out, err
}

// decoders are the benchmarked decoders, by name.
var decoders = []struct {
	name   string
	decode func([]byte) error
}{
	{"ours", func(b []byte) error { _, err := decodeOurs(b); return err }},
	{"indigo", func(b []byte) error { _, err := decodeIndigo(b); return err }},
	{"map-any", func(b []byte) error { _, err := decodeAny(b); return err }},
}

func benchmark(data []byte, decode func([]byte) error) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if err := decode(data); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func main() {
	rounds := flag.Int("rounds", 7, "interleaved `rounds` of testing.Benchmark per decoder")
	posts := flag.Int("posts", 100, "feed items in the response")
	dump := flag.String("dump", "", "write the response JSON to `file` and exit")
	flag.Parse()
	data, _ := timeline(*posts)
	if *dump != "" {
		if err := os.WriteFile(*dump, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	for _, d := range decoders {
		if err := d.decode(data); err != nil {
			fmt.Fprintf(os.Stderr, "decode: %s: %v\n", d.name, err)
			os.Exit(1)
		}
	}
	fmt.Printf("getTimeline response: %d feed items, %d bytes; %d rounds\n", *posts, len(data), *rounds)
	ns := map[string][]float64{}
	allocs := map[string][]float64{}
	bytes := map[string][]float64{}
	for r := range *rounds {
		fmt.Printf("round %d", r+1)
		for k := range decoders {
			d := decoders[(k+r)%len(decoders)] // rotate who goes first
			res := testing.Benchmark(benchmark(data, d.decode))
			n := float64(res.T.Nanoseconds()) / float64(res.N)
			ns[d.name] = append(ns[d.name], n)
			allocs[d.name] = append(allocs[d.name], float64(res.AllocsPerOp()))
			bytes[d.name] = append(bytes[d.name], float64(res.AllocedBytesPerOp()))
			fmt.Printf("   %s %.2f ms %d allocs", d.name, n/1e6, res.AllocsPerOp())
		}
		fmt.Printf("   ours/indigo %.2f\n", ns["ours"][r]/ns["indigo"][r])
	}
	fmt.Println()
	for _, d := range decoders {
		fmt.Printf("%-8s median %6.2f ms (min %.2f, max %.2f)  %7.0f allocs  %8.0f B  %6.1f MB/s\n", d.name,
			median(ns[d.name])/1e6, slices.Min(ns[d.name])/1e6, slices.Max(ns[d.name])/1e6,
			median(allocs[d.name]), median(bytes[d.name]), float64(len(data))/median(ns[d.name])*1e3)
	}
	perRound := make([]float64, *rounds)
	for r := range perRound {
		perRound[r] = ns["ours"][r] / ns["indigo"][r]
	}
	fmt.Printf("ratio ours/indigo: time %.2f (per-round %.2f–%.2f), allocs %.2f, bytes %.2f\n",
		median(ns["ours"])/median(ns["indigo"]), slices.Min(perRound), slices.Max(perRound),
		median(allocs["ours"])/median(allocs["indigo"]), median(bytes["ours"])/median(bytes["indigo"]))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
