package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goFile is one non-test Go file of the module, parsed.
type goFile struct {
	path string // slash-separated, relative to the module root
	ast  *ast.File
}

func (f goFile) dir() string { return filepath.ToSlash(filepath.Dir(f.path)) }

func (f goFile) imports(path string) bool {
	for _, im := range f.ast.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			return true
		}
	}
	return false
}

// sources parses every non-test, non-generated Go file under the module
// root.
func sources(t *testing.T) []goFile {
	t.Helper()
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	var out []goFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch {
			case rel == ".":
				return nil
			case strings.HasPrefix(d.Name(), "."), d.Name() == "testdata", rel == "bin",
				rel == "temporal-config/server": // its own module
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out = append(out, goFile{path: rel, ast: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 100 {
		t.Fatalf("found only %d Go files under %s: is the walk rooted at the module?", len(out), root)
	}
	return out
}

const module = "github.com/scantron/scantron"

// Only web serves HTTP with gin: the rest of the code is callable without
// it (the service layer, the CLI, the workers).
func TestGinOnlyInWeb(t *testing.T) {
	for _, f := range sources(t) {
		if f.imports("github.com/gin-gonic/gin") && !strings.HasPrefix(f.dir(), "web") {
			t.Errorf("%s imports gin; only web/ may", f.path)
		}
	}
}

// web depends on small interfaces and domain types, never on the store's.
func TestWebDoesNotImportTheStore(t *testing.T) {
	for _, f := range sources(t) {
		if strings.HasPrefix(f.dir(), "web") && f.imports(module+"/storage/postgres") {
			t.Errorf("%s imports storage/postgres; web declares the interfaces it needs and uses scan's types", f.path)
		}
	}
}

// workflows holds deterministic code only: no Temporal client, no storage,
// no network or files, no wall clock.
func TestWorkflowsStayDeterministic(t *testing.T) {
	banned := []string{"go.temporal.io/sdk/client", module + "/storage/postgres", module + "/storage/objects",
		"net/http", "os", "os/exec", "math/rand", "math/rand/v2"}
	for _, f := range sources(t) {
		if f.dir() != "workflows" {
			continue
		}
		for _, b := range banned {
			if f.imports(b) {
				t.Errorf("%s imports %s; workflows/ holds deterministic code only", f.path, b)
			}
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "time" && (sel.Sel.Name == "Now" || sel.Sel.Name == "Sleep" || sel.Sel.Name == "After") {
					t.Errorf("%s uses time.%s; workflows use workflow.Now and timers", f.path, sel.Sel.Name)
				}
			}
			if _, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s starts a goroutine; workflows use workflow.Go", f.path)
			}
			return true
		})
	}
}

// Each scanner is named only by its driver, its option table and the one
// registration table: everything else asks the driver.
func TestScannersNamedOnlyByTheirDrivers(t *testing.T) {
	names := map[string]bool{"nmap": true, "masscan": true, "zmap": true}
	consts := map[string]bool{"Nmap": true, "Masscan": true, "Zmap": true}
	allowed := func(path string) bool {
		dir := filepath.ToSlash(filepath.Dir(path))
		switch dir {
		case "scan/nmap", "scan/masscan", "scan/zmap", "scan/scanners", "scan/report",
			"scan/internal/scriptdbgen": // reads nmap's own script.db, by design
			return true
		}
		return strings.HasPrefix(path, "scan/options_") || path == "scan/spec.go"
	}
	for _, f := range sources(t) {
		if allowed(f.path) {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "scan" && consts[n.Sel.Name] {
					t.Errorf("%s names scan.%s; ask the scanner's driver instead", f.path, n.Sel.Name)
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil && names[s] {
						t.Errorf("%s names the scanner %q; ask the scanner's driver instead", f.path, s)
					}
				}
			}
			return true
		})
	}
}
