package lex_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/atpgo/atp/agent/lex"
	"github.com/google/go-cmp/cmp"
)

func TestPagesFollowsCursorsAndStops(t *testing.T) {
	pages := map[string]string{"": "a", "a": "b", "b": ""}
	var asked []string
	var got []string
	for page, err := range lex.Pages("", func(cursor string) (string, string, error) {
		asked = append(asked, cursor)
		return "page" + cursor, pages[cursor], nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page)
	}
	if diff := cmp.Diff([]string{"page", "pagea", "pageb"}, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", "a", "b"}, asked); diff != "" {
		t.Errorf("cursors asked (-want +got):\n%s", diff)
	}
}

func TestPagesStopsOnRepeatedCursorAndError(t *testing.T) {
	n := 0
	for range lex.Pages("x", func(cursor string) (int, string, error) {
		n++
		return n, "x", nil // a server that keeps returning the same cursor
	}) {
	}
	if n != 1 {
		t.Errorf("fetched %d pages for a repeated cursor, want 1", n)
	}

	boom := errors.New("boom")
	var errs []error
	for _, err := range lex.Pages("", func(cursor string) (int, string, error) {
		if cursor == "2" {
			return 0, "", boom
		}
		return 1, "2", nil
	}) {
		errs = append(errs, err)
	}
	if len(errs) != 2 || errs[0] != nil || !errors.Is(errs[1], boom) {
		t.Errorf("errors yielded: %v", errs)
	}
}

func TestPagesBreakStopsFetching(t *testing.T) {
	n := 0
	for range lex.Pages("", func(cursor string) (int, string, error) {
		n++
		return n, fmt.Sprint(n), nil
	}) {
		break
	}
	if n != 1 {
		t.Errorf("fetched %d pages after break, want 1", n)
	}
}
