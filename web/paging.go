package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// listQuery is what a list request says about the rows it wants: a page
// (limit and offset, as page reads them) and q, a name search.
type listQuery struct {
	Limit, Offset int
	// Q keeps the rows whose name contains it, ignoring case; "" keeps all.
	Q string
	// Paged is whether limit or offset was given at all.
	Paged bool
}

// readList reads limit, offset and q, answering 400 naming the parameter
// that is wrong.
func readList(c *gin.Context) (listQuery, error) {
	var lq listQuery
	var err error
	if lq.Limit, lq.Offset, err = page(c); err != nil {
		return lq, err
	}
	_, hasLimit := c.GetQuery("limit")
	_, hasOffset := c.GetQuery("offset")
	lq.Paged = hasLimit || hasOffset
	if lq.Q, err = querySearch(c, "q"); err != nil {
		return lq, err
	}
	return lq, nil
}

// querySearch reads a free-text search parameter: trimmed, printable and
// at most maxSearchLen bytes.
func querySearch(c *gin.Context, name string) (string, error) {
	v := strings.TrimSpace(c.Query(name))
	if len(v) > maxSearchLen {
		return "", badRequest("%s: longer than %d characters", name, maxSearchLen)
	}
	if err := checkPrintable(name, v); err != nil {
		return "", err
	}
	return v, nil
}

// writeList answers one page of rows as a JSON array, with the number of
// rows the request selects in all (before limit and offset) in
// X-Total-Count.
func writeList[T any](c *gin.Context, rows []T, total int) {
	c.Header("X-Total-Count", strconv.Itoa(total))
	c.JSON(http.StatusOK, nonNil(rows))
}

// pageRows pages a list held in memory: it keeps the rows whose name
// contains q, then, when limit or offset was given, the page they choose.
// Configuration lists (sites, profiles, agents, ...) are small enough for
// this; scans and runs are paged by the database.
func pageRows[T any](lq listQuery, rows []T, name func(T) string) ([]T, int) {
	if lq.Q != "" {
		q := strings.ToLower(lq.Q)
		kept := rows[:0:0]
		for _, r := range rows {
			if strings.Contains(strings.ToLower(name(r)), q) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	total := len(rows)
	if lq.Paged {
		rows = rows[min(lq.Offset, len(rows)):]
		rows = rows[:min(lq.Limit, len(rows))]
	}
	return rows, total
}

// pager is what a page needs to link to the pages before and after the
// rows it shows, and to keep the search in its box.
type pager struct {
	Total, From, To int
	Prev, Next      string
	Q               string
}

// newPager describes the page lq chooses of total rows, with links that
// are the request's own address with offset moved on.
func newPager(u *url.URL, lq listQuery, total int) pager {
	p := pager{Total: total, Q: lq.Q}
	if lq.Offset < total {
		p.From, p.To = lq.Offset+1, min(lq.Offset+lq.Limit, total)
	}
	if lq.Offset+lq.Limit < total {
		p.Next = nextPage(u, lq.Offset+lq.Limit)
	}
	if lq.Offset > 0 {
		p.Prev = nextPage(u, max(lq.Offset-lq.Limit, 0))
	}
	return p
}
