package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestScansListPagesThrough: the server answers scans a page at a time,
// so `scans list` asks page after page until a short one and prints every
// scan once.
func TestScansListPagesThrough(t *testing.T) {
	const total = 1234
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/scans" || r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, `{"error": "unexpected request"}`, http.StatusBadRequest)
			return
		}
		asked = append(asked, r.URL.RawQuery)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		if limit < 1 || limit > 500 {
			http.Error(w, `{"error": "limit: out of range"}`, http.StatusBadRequest)
			return
		}
		rows := []map[string]any{}
		for i := offset; i < min(offset+limit, total); i++ {
			rows = append(rows, map[string]any{"id": i + 1, "name": fmt.Sprintf("scan-%04d", i+1)})
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Total-Count", strconv.Itoa(total))
		_ = json.NewEncoder(w).Encode(rows)
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"SCANTRON_URL": srv.URL, "SCANTRON_TOKEN": "tok", "XDG_CONFIG_HOME": t.TempDir()}
	var out, errs bytes.Buffer
	if code := runClient(context.Background(), "scans", []string{"list"}, func(k string) string { return env[k] }, nil, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != total+1 || !strings.Contains(lines[1], "scan-0001") || !strings.Contains(lines[total], "scan-1234") {
		t.Errorf("%d lines, first %q, last %q", len(lines), lines[1], lines[len(lines)-1])
	}
	if want := "limit=500&offset=0 limit=500&offset=500 limit=500&offset=1000"; strings.Join(asked, " ") != want {
		t.Errorf("asked %q, want %q", asked, want)
	}
}

// TestWindowsFlags: `runs start --ignore-windows` asks the server for the
// override and plain `runs start` does not; `scans create --windows` sends
// each ';'-separated window (their days hold commas).
func TestWindowsFlags(t *testing.T) {
	var asked []string
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		if r.Method == "POST" && r.URL.Path == "/api/v1/scans" {
			_ = json.NewDecoder(r.Body).Decode(&body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"id": 9, "name": "night", "workflow_id": "scan-7-run-x"}`))
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"SCANTRON_URL": srv.URL, "SCANTRON_TOKEN": "tok", "XDG_CONFIG_HOME": t.TempDir()}
	for _, args := range [][]string{{"runs", "start", "7"}, {"runs", "start", "7", "--ignore-windows"},
		{"scans", "create", "--name", "night", "--site", "1", "--profile", "2", "--agent", "3", "--windows", "mon,wed 22:00-06:00; sat 10:00-12:00"}} {
		var out, errs bytes.Buffer
		if code := runClient(context.Background(), args[0], args[1:], func(k string) string { return env[k] }, nil, &out, &errs); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errs.String())
		}
	}
	if want := "POST /api/v1/scans/7/runs|POST /api/v1/scans/7/runs?ignore_windows=true|POST /api/v1/scans"; strings.Join(asked, "|") != want {
		t.Errorf("asked %q, want %q", strings.Join(asked, "|"), want)
	}
	if got := fmt.Sprint(body["windows"]); got != "[mon,wed 22:00-06:00 sat 10:00-12:00]" {
		t.Errorf("scans create sent windows %s", got)
	}
}
