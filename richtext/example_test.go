package richtext_test

import (
	"context"
	"fmt"

	"github.com/atpgo/atp/richtext"
)

// Offsets are UTF-8 bytes: "é" and "👋" move everything after them.
func ExampleDetect() {
	text := "héllo 👋 @alice.test #golang go.dev/blog."
	for _, s := range richtext.Detect(text) {
		fmt.Printf("%-7s [%2d:%2d] %q → %s\n", s.Kind, s.Start, s.End, text[s.Start:s.End], s.Value)
	}
	// Output:
	// mention [12:23] "@alice.test" → alice.test
	// tag     [24:31] "#golang" → golang
	// link    [32:43] "go.dev/blog" → https://go.dev/blog
}

// DetectFacets resolves mentions with any Resolver; an *atp.Agent is one.
func ExampleDetectFacets() {
	resolve := richtext.ResolverFunc(func(ctx context.Context, handle string) (string, error) {
		return "did:plc:" + handle[:5], nil
	})
	text := "thanks @alice.test!"
	facets, err := richtext.DetectFacets(context.Background(), text, resolve)
	if err != nil {
		panic(err)
	}
	for _, seg := range richtext.Segments(text, facets) {
		if m := seg.Mention(); m != nil {
			fmt.Printf("[%s → %s]", seg.Text, m.DID)
		} else {
			fmt.Print(seg.Text)
		}
	}
	fmt.Println()
	// Output:
	// thanks [@alice.test → did:plc:alice]!
}

// Post limits count graphemes, not bytes or runes.
func ExampleGraphemeLen() {
	s := "👩‍👩‍👧 é"
	fmt.Println(len(s), len([]rune(s)), richtext.GraphemeLen(s))
	// Output:
	// 21 7 3
}
