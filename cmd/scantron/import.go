package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// runImport runs `scantron import --site SITE FILE...`: every file goes in
// one multipart request, streamed from disk, and the server makes each a
// run of the site, oldest scan first, or refuses them all.
func runImport(ctx context.Context, cc *call) error {
	return clientImport(ctx, cc.api, cc.rest, cc.stdout)
}

func clientImport(ctx context.Context, api apiClient, args []string, stdout io.Writer) error {
	var site string
	var files []string
	asJSON := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			files = append(files, args[i+1:]...)
			i = len(args)
		case !strings.HasPrefix(a, "-") || a == "-":
			files = append(files, a)
		case name == "h" || name == "help":
			fmt.Fprint(stdout, "Usage: scantron import --site SITE [--json] FILE...\n  import nmap XML or masscan XML/JSON files as runs of site SITE (a name or id)\n")
			return flag.ErrHelp
		case name == "json" && !hasValue:
			asJSON = true
		case name == "site":
			if !hasValue {
				if i+1 >= len(args) {
					return usageError{"--site needs a value"}
				}
				i++
				value = args[i]
			}
			site = value
		default:
			return usageError{fmt.Sprintf("import: unknown flag %s", a)}
		}
	}
	if site == "" {
		return usageError{"import: --site is required"}
	}
	if len(files) == 0 {
		return usageError{"import: name at least one file"}
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file", f)
		}
	}
	id, err := siteID(ctx, api, site)
	if err != nil {
		return err
	}

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeImportFiles(mw, files))
	}()
	// Uploads and recording take as long as they take; ctx still cancels.
	api.http = &http.Client{}
	resp, err := api.sendBody(ctx, "POST", fmt.Sprintf("/sites/%d/imports", id), mw.FormDataContentType(), pr)
	pr.CloseWithError(errors.New("request ended"))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	var out struct {
		Runs []importedRun `json:"runs"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	failed := 0
	for _, r := range out.Runs {
		if r.Status == "failed" || r.Status == "cancelled" {
			failed++
		}
	}
	if asJSON {
		if _, err := stdout.Write(data); err != nil {
			return err
		}
	} else if err := importTable(stdout, out.Runs, resp.StatusCode == http.StatusAccepted); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be recorded", failed, len(out.Runs))
	}
	return nil
}

func importTable(stdout io.Writer, runs []importedRun, accepted bool) error {
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tFILE\tSCANNER\tSTARTED\tSTATUS\tHOSTS UP\tOPEN PORTS")
	for _, r := range runs {
		status := r.Status
		if r.Error != "" {
			status += ": " + r.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\n", r.RunID, r.FileName, r.Scanner, r.Start.UTC().Format(time.RFC3339), status, r.HostsUp, r.OpenPorts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if accepted {
		fmt.Fprintln(stdout, "the server is still recording the runs; follow them with 'scantron runs watch RUN_ID'")
	}
	return nil
}

// writeImportFiles writes each file as a part named "file".
func writeImportFiles(mw *multipart.Writer, files []string) error {
	for _, name := range files {
		if err := writeImportFile(mw, name); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeImportFile(mw *multipart.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := mw.CreateFormFile("file", filepath.Base(name))
	if err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}

// siteID is the id of the site named (or numbered) site.
func siteID(ctx context.Context, api apiClient, site string) (int64, error) {
	if id, err := strconv.ParseInt(site, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	var sites []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if err := api.do(ctx, "GET", "/sites?q="+url.QueryEscape(site), nil, &sites); err != nil {
		return 0, err
	}
	for _, s := range sites {
		if s.Name == site {
			return s.ID, nil
		}
	}
	return 0, fmt.Errorf("--site: no site is named %q", site)
}

// importedRun is one file of an import's answer.
type importedRun struct {
	FileName  string    `json:"file_name"`
	Scanner   string    `json:"scanner"`
	Start     time.Time `json:"start"`
	RunID     int64     `json:"run_id"`
	Status    string    `json:"status"`
	Error     string    `json:"error"`
	HostsUp   int       `json:"hosts_up"`
	OpenPorts int       `json:"open_ports"`
}
