package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes keeps the served OpenAPI document true: its
// operations are exactly the registered /api/v1 routes, each documents the
// role the router demands, and every $ref resolves. A new route fails here
// until web/openapi.json describes it.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	w := e.doAs(t, "", "GET", "/api/v1/openapi.json", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Servers []struct{ URL string }                `json:"servers"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Fatalf("openapi %q servers %+v", doc.OpenAPI, doc.Servers)
	}

	documented := map[string]string{} // "GET /api/v1/sites/:id" -> role
	param := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Role      string         `json:"x-scantron-role"`
				Summary   string         `json:"summary"`
				Responses map[string]any `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Errorf("%s %s: %v", method, path, err)
				continue
			}
			if op.Summary == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s lacks a summary or responses", method, path)
			}
			documented[strings.ToUpper(method)+" /api/v1"+param.ReplaceAllString(path, ":$1")] = op.Role
		}
	}
	registered := map[string]bool{}
	for _, rt := range e.srv.engine().Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") {
			continue
		}
		key := rt.Method + " " + rt.Path
		registered[key] = true
		role, ok := documented[key]
		if !ok {
			t.Errorf("%s is registered but not in web/openapi.json", key)
			continue
		}
		want := string(e.srv.roles[key])
		if want == "" {
			want = "public"
		}
		if role != want {
			t.Errorf("%s: web/openapi.json says role %q, the router demands %q", key, role, want)
		}
	}
	var extra []string
	for key := range documented {
		if !registered[key] {
			extra = append(extra, key)
		}
	}
	sort.Strings(extra)
	for _, key := range extra {
		t.Errorf("web/openapi.json documents %s, which is not registered", key)
	}

	// Every reference points at a schema the document has.
	var whole map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &whole); err != nil {
		t.Fatal(err)
	}
	schemas, _ := whole["components"].(map[string]any)["schemas"].(map[string]any)
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([A-Za-z]+)"`).FindAllStringSubmatch(w.Body.String(), -1) {
		if _, ok := schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
}

// TestOpenAPIListsDocumentPaging: every list the server pages and counts
// documents limit and offset, q where it searches by name, and the
// X-Total-Count header of its answer.
func TestOpenAPIListsDocumentPaging(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			Responses map[string]struct {
				Headers map[string]json.RawMessage `json:"headers"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	lists := map[string]bool{ // path -> searched by name
		"/scans": true, "/runs": false, "/sites": true, "/profiles": true, "/agents": true, "/pools": true,
		"/exclusions": true, "/users": true, "/tokens": true, "/users/{id}/tokens": true, "/join-tokens": true,
		"/runs/{id}/hosts": false, "/runs/{id}/ports": false, "/scans/{id}/diffs": false,
	}
	for path, searched := range lists {
		op, ok := doc.Paths[path]["get"]
		if !ok {
			t.Errorf("GET %s is not documented", path)
			continue
		}
		have := map[string]bool{}
		for _, p := range op.Parameters {
			if p.In == "query" {
				have[p.Name] = true
			}
		}
		if !have["limit"] || !have["offset"] || have["q"] != searched {
			t.Errorf("GET %s documents query parameters %v; want limit, offset and q %v", path, have, searched)
		}
		if _, ok := op.Responses["200"].Headers["X-Total-Count"]; !ok {
			t.Errorf("GET %s does not document X-Total-Count", path)
		}
	}
}
