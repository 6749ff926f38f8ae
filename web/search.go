package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/query"
)

// SearchStore runs queries of the search language.
type SearchStore interface {
	Search(ctx context.Context, q query.Query, o query.Options) (query.Result, error)
}

// Export limits: a CSV or JSONL answer holds up to maxExportRows hits
// (defaultExportRows unless limit says otherwise).
const (
	defaultExportRows = 10000
	maxExportRows     = 100000
)

// searchHandlers answer GET /api/v1/search; the /search page runs the same
// find.
type searchHandlers struct {
	base
	store SearchStore
	now   func() time.Time
}

// searchPage is one page of hits.
type searchPage struct {
	Query  string      `json:"query"`
	Run    int64       `json:"run,omitempty"` // the run searched; absent for the current assets
	Total  int         `json:"total"`
	Capped bool        `json:"total_capped"` // more than total (query.MaxCount) match
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
	Next   string      `json:"next,omitempty"`
	Hits   []query.Hit `json:"hits"`
}

// queryError is a q that does not parse; the API answers it with its
// column, the page shows it under the query.
type queryError struct{ err *query.Error }

func (e *queryError) Error() string { return "q: " + e.err.Error() }

// find parses q, runs it and pages it: the one operation behind the API,
// the page and the CLI. A parse error is a *queryError; a run that does
// not exist is a 404.
func (h *searchHandlers) find(c *gin.Context, defLimit, maxLimit int) (searchPage, error) {
	raw := c.Query("q")
	out := searchPage{Query: raw}
	q, err := query.Parse(raw)
	if err != nil {
		var qe *query.Error
		if errors.As(err, &qe) {
			return out, &queryError{err: qe}
		}
		return out, err
	}
	if out.Limit, err = queryInt(c, "limit", defLimit, 1, maxLimit); err != nil {
		return out, err
	}
	if out.Offset, err = queryInt(c, "offset", 0, 0, maxOffset); err != nil {
		return out, err
	}
	res, err := h.store.Search(c.Request.Context(), q, query.Options{Limit: out.Limit, Offset: out.Offset,
		Now: h.now(), MaxCount: query.MaxCount})
	if err != nil {
		return out, mapErr(err, scan.ErrNotFound, http.StatusNotFound, "q: run %d not found", q.Run)
	}
	out.Run, out.Total, out.Capped, out.Hits = q.Run, res.Total, res.Capped, nonNil(res.Hits)
	if out.Offset+len(res.Hits) < res.Total || (res.Capped && len(res.Hits) == out.Limit) {
		out.Next = nextPage(c.Request.URL, out.Offset+out.Limit)
	}
	return out, nil
}

// search answers GET /api/v1/search?q=&limit=&offset=&format=json|csv|jsonl.
func (h *searchHandlers) search(c *gin.Context) error {
	format := c.DefaultQuery("format", "json")
	def, hi := defaultPageSize, maxPageSize
	switch format {
	case "json":
	case "csv", "jsonl":
		def, hi = defaultExportRows, maxExportRows
	default:
		return badRequest("format: %q is not json, csv or jsonl", clip(format))
	}
	p, err := h.find(c, def, hi)
	if answerQueryError(c, err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch format {
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="search.csv"`)
		c.Status(http.StatusOK)
		w := csv.NewWriter(c.Writer)
		if err := w.Write(query.HitColumns); err != nil {
			return err
		}
		for _, hit := range p.Hits {
			if err := w.Write(query.HitRecord(hit)); err != nil {
				return err
			}
		}
		w.Flush()
		return w.Error()
	case "jsonl":
		c.Header("Content-Type", "application/x-ndjson")
		c.Header("Content-Disposition", `attachment; filename="search.jsonl"`)
		c.Status(http.StatusOK)
		enc := json.NewEncoder(c.Writer)
		for _, hit := range p.Hits {
			if err := enc.Encode(hit); err != nil {
				return err
			}
		}
		return nil
	}
	c.JSON(http.StatusOK, p)
	return nil
}

// searchPage is the /search page: the search box, the hits as a table, and
// a query that does not parse shown with a caret under its column. It runs
// the API's find, so both give the same answers.
func (h *uiHandlers) searchPage(c *gin.Context) error {
	data := map[string]any{"Title": "Search", "Q": c.Query("q"), "Fields": query.Fields()}
	status := http.StatusOK
	p, err := h.srv.search.find(c, defaultPageSize, maxPageSize)
	var qe *queryError
	he, isClient := clientError(err)
	switch {
	case errors.As(err, &qe):
		status = http.StatusBadRequest
		data["Error"] = qe.err.Error()
		data["Caret"] = strings.Repeat(" ", qe.err.Col-1) + "^"
	case isClient && he.status < 500:
		status = he.status
		data["Error"] = he.msg
	case err != nil:
		return err
	default:
		data["Page"] = p
		data["From"], data["To"] = p.Offset+1, p.Offset+len(p.Hits)
		if p.Next != "" {
			data["Next"] = p.Next // the page's own address, moved on
		}
		if p.Offset > 0 {
			data["Prev"] = nextPage(c.Request.URL, max(p.Offset-p.Limit, 0))
		}
		export := url.Values{"q": {p.Query}}
		export.Set("format", "csv")
		data["CSV"] = "/api/v1/search?" + export.Encode()
		export.Set("format", "jsonl")
		data["JSONL"] = "/api/v1/search?" + export.Encode()
	}
	return h.render(c, status, "search", data)
}
