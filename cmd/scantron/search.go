package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/scantron/scantron/scan/query"
)

const searchUsage = `Usage: scantron search [--json | --format csv|jsonl] [--limit N] [--offset N] QUERY...
  search the current assets (or run:ID) with the search language, e.g.
  scantron search port:443 -service:https seen:<7d
`

// search runs `scantron search`. Its flags may stand anywhere; every other
// argument is a word of the query, so that terms starting with - (negated)
// need no quoting or "--".
func search(ctx context.Context, api apiClient, args []string, stdout io.Writer) error {
	var (
		asJSON        bool
		format        string
		limit, offset = "", ""
		words         []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" {
			words = append(words, a)
			continue
		}
		if a == "--" {
			words = append(words, args[i+1:]...)
			break
		}
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, searchUsage)
			return flag.ErrHelp
		case "json":
			asJSON = true
			continue
		case "format", "limit", "offset":
			if !hasValue {
				if i+1 >= len(args) {
					return usageError{fmt.Sprintf("--%s needs a value", name)}
				}
				i++
				value = args[i]
			}
			switch name {
			case "format":
				format = value
			case "limit":
				limit = value
			case "offset":
				offset = value
			}
			continue
		}
		words = append(words, a) // a negated term such as -port:22
	}
	if format != "" && format != "csv" && format != "jsonl" {
		return usageError{fmt.Sprintf("--format: %q is not csv or jsonl", format)}
	}
	if format != "" && asJSON {
		return usageError{"--json and --format: choose one"}
	}
	if err := checkPage(limit, offset); err != nil {
		return err
	}
	q := url.Values{"q": {strings.Join(words, " ")}}
	if format != "" {
		q.Set("format", format)
	}
	if limit != "" {
		q.Set("limit", limit)
	}
	if offset != "" {
		q.Set("offset", offset)
	}
	path := "/search?" + q.Encode()
	if format != "" || asJSON {
		resp, err := api.send(ctx, "GET", path, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(stdout, resp.Body)
		return err
	}
	var page struct {
		Total  int         `json:"total"`
		Offset int         `json:"offset"`
		Hits   []query.Hit `json:"hits"`
	}
	if err := api.do(ctx, "GET", path, nil, &page); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tADDRESS\tPORT\tSTATE\tSERVICE\tPRODUCT\tVERSION\tLAST SEEN")
	for _, h := range page.Hits {
		fmt.Fprintf(tw, "%s\t%s\t%d/%s\t%s\t%s\t%s\t%s\t%s\n", h.Site, h.Address, h.Port, h.Protocol, h.State,
			h.Service, h.Product, h.Version, h.LastSeen.UTC().Format("2006-01-02 15:04"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(page.Hits) < page.Total {
		fmt.Fprintf(stdout, "%d-%d of %d; --offset %d for more\n", page.Offset+1, page.Offset+len(page.Hits), page.Total, page.Offset+len(page.Hits))
	}
	return nil
}
