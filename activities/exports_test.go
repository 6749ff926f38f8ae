package activities_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/scantron/scantron/activities"
)

// TestDirTarget: a file appears whole under its name, replaces an older
// one, and a failed write leaves neither a partial file nor a temporary one.
func TestDirTarget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := activities.DirTarget{Dir: dir}
	for _, content := range []string{"first", "second"} {
		if err := d.Write(ctx, "scantron-run-1.csv", strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(dir, "scantron-run-1.csv")); err != nil || string(got) != content {
			t.Fatalf("file holds %q, %v; want %q", got, err, content)
		}
	}
	boom := errors.New("connection reset")
	err := d.Write(ctx, "scantron-run-2.csv", io.MultiReader(strings.NewReader("part"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range []string{"", "../x.csv", "a/b.csv", ".hidden"} {
		if err := d.Write(ctx, name, strings.NewReader("x")); err == nil {
			t.Errorf("name %q was accepted", name)
		}
	}
	if err := d.Remove(ctx, "scantron-run-9.csv"); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if err := d.Remove(ctx, "../x"); err == nil {
		t.Error("Remove accepted a path")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "scantron-run-1.csv" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only scantron-run-1.csv", names)
	}
	if err := d.Remove(ctx, "scantron-run-1.csv"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d entries left after Remove", len(entries))
	}
}
