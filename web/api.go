package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/manage"
	"github.com/scantron/scantron/scan"
)

// httpError is an error whose message is safe and meant for the client.
// Anything else that reaches a handler's error path is logged and answered
// with a generic 500.
type httpError struct {
	status int
	msg    string
	// field is the input field at fault, when the refusal names one.
	field string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}

// clientError is err as the refusal a client is shown, when it is one: an
// *httpError of the web layer or a *manage.Error of an operation.
func clientError(err error) (*httpError, bool) {
	var he *httpError
	if errors.As(err, &he) {
		return he, true
	}
	var me *manage.Error
	if errors.As(err, &me) {
		return &httpError{status: kindStatus[me.Kind], msg: me.Msg, field: me.Field}, true
	}
	return nil, false
}

// kindStatus answers each kind of refusal of an operation.
var kindStatus = map[manage.Kind]int{
	manage.Invalid:     http.StatusBadRequest,
	manage.Forbidden:   http.StatusForbidden,
	manage.NotFound:    http.StatusNotFound,
	manage.Conflict:    http.StatusConflict,
	manage.Unavailable: http.StatusServiceUnavailable,
}

// mapErr turns err into a client error when it is (or wraps) target, and
// leaves it alone otherwise, so that store sentinels get a message naming
// the resource while unexpected failures stay 500s.
func mapErr(err, target error, status int, format string, args ...any) error {
	if err != nil && errors.Is(err, target) {
		return errorf(status, format, args...)
	}
	return err
}

// base is what every group of handlers shares.
type base struct {
	log *slog.Logger
}

// handle adapts a handler that returns its error to gin, answering that
// error with fail.
func (b base) handle(f func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := f(c); err != nil {
			b.fail(c, err)
		}
	}
}

// fail answers err as JSON: its own status and message for an httpError,
// a generic 500 (with the cause logged) for anything else.
func (b base) fail(c *gin.Context, err error) {
	if c.Writer.Written() {
		// Too late to change the answer (a stream broke off): just record it.
		b.log.WarnContext(c.Request.Context(), "response cut short",
			"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		c.Abort()
		return
	}
	if he, ok := clientError(err); ok {
		c.AbortWithStatusJSON(he.status, gin.H{"error": he.msg})
		return
	}
	if errors.Is(err, scan.ErrInvalid) {
		// The schema refused a value that validation let through: the
		// client's fault, but also a gap in validation worth a warning.
		b.log.WarnContext(c.Request.Context(), "database refused a value that passed validation",
			"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	b.log.ErrorContext(c.Request.Context(), "request failed",
		"method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "internal server error"})
}

// decodeJSON reads exactly one JSON value from the body into dst,
// refusing unknown fields, and explains what is wrong in terms of the
// request.
func decodeJSON(c *gin.Context, dst any) error {
	if ct := c.GetHeader("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json, not %q", clip(ct))
		}
		// JSON is UTF-8 (RFC 8259); a body declared otherwise would be
		// read as UTF-8 all the same, and mean something else.
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type: charset %q is not accepted; send UTF-8", clip(cs))
		}
	} else {
		// Demanding the header keeps plain HTML forms on other sites from
		// posting to the API: a browser sends application/json only after a
		// CORS preflight, which this server never grants.
		return errorf(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	body, err := readJSONBody(c.Request.Body)
	if err != nil {
		return err
	}
	if err := checkJSONText(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) && strings.Contains(syntax.Error(), "in string literal") {
			// A raw control character: say in which field.
			return badRequest("%s: %s", jsonFieldAt(body, syntax.Offset-1), jsonError(err))
		}
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		mbe    *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid JSON: unexpected end of input")
	case errors.As(err, &syntax):
		return badRequest("invalid JSON at byte %d: %s", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: "))
	case errors.As(err, &typ):
		if typ.Field == "" {
			return badRequest("request body must be a JSON object, not %s", typ.Value)
		}
		return badRequest("%s: expected %s, got %s", typ.Field, jsonTypeName(typ.Type.String()), typ.Value)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return badRequest("unknown field %s", clip(f))
	}
	return badRequest("invalid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string", goType == "*string":
		return "a string"
	case goType == "bool", goType == "*bool":
		return "true or false"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return goType
}

func tooLarge(limit int64) error {
	return errorf(http.StatusRequestEntityTooLarge, "request body is larger than %d bytes", limit)
}

// maxQueryValue bounds one query parameter: filters are addresses, ports,
// names and numbers.
const maxQueryValue = 1000

// checkParams refuses, for every route at once, query parameters (and,
// for the UI's form posts, form fields) that no handler can use and that
// PostgreSQL would refuse with an error: text that is not UTF-8, control
// characters (NUL among them; form fields may hold tabs and line breaks,
// as a textarea sends them) and very long query values. The API answers
// JSON, the UI an error page. The UI's public pages (the login form) are
// left alone: they read only what they sanitise themselves, such as the
// page to return to, where a hostile link gets the home page, not an error.
func (s *Server) checkParams(role accounts.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if role == public && !isAPI(c) {
			c.Next()
			return
		}
		refuse := func(err error) {
			if isAPI(c) {
				c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": err.Error()})
				return
			}
			s.ui.errorPage(c, http.StatusBadRequest, err.Error())
			c.Abort()
		}
		if c.Request.URL.RawQuery != "" {
			q, err := url.ParseQuery(c.Request.URL.RawQuery)
			if err != nil {
				refuse(badRequest("query string: %s", clip(err.Error())))
				return
			}
			for name, vals := range q {
				for _, v := range vals {
					if err := checkQueryValue(name, v, maxQueryValue, false); err != nil {
						refuse(err)
						return
					}
				}
			}
		}
		if !isAPI(c) && c.Request.Method == http.MethodPost && c.ContentType() == "application/x-www-form-urlencoded" {
			if err := c.Request.ParseForm(); err != nil {
				refuse(badRequest("form: %s", clip(err.Error())))
				return
			}
			for name, vals := range c.Request.PostForm {
				for _, v := range vals {
					if err := checkQueryValue(name, v, MaxBodyBytes, true); err != nil {
						refuse(err)
						return
					}
				}
			}
		}
		c.Next()
	}
}

func checkQueryValue(name, v string, limit int, text bool) error {
	if !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return badRequest("parameter %q: its name is not printable UTF-8", clip(strings.ToValidUTF8(name, "?")))
	}
	if !utf8.ValidString(v) {
		return badRequest("%s: not valid UTF-8", clip(name))
	}
	if (text && strings.ContainsFunc(v, isTextControl)) || (!text && strings.ContainsFunc(v, isControl)) {
		return badRequest("%s: contains a control character", clip(name))
	}
	if n := utf8.RuneCountInString(v); n > limit {
		return badRequest("%s: %d characters long, the limit is %d", clip(name), n, limit)
	}
	return nil
}

// pathID reads the :id parameter, a positive integer.
func pathID(c *gin.Context) (int64, error) { return pathParamID(c, "id") }

// pathParamID reads the path parameter name as a positive id.
func pathParamID(c *gin.Context, name string) (int64, error) {
	raw := c.Param(name)
	// Digits only: ParseInt would also take "+1".
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strings.TrimLeft(raw, "0123456789") != "" {
		return 0, badRequest("%s: %q is not a valid id", name, raw)
	}
	return id, nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	raw, ok := c.GetQuery(name)
	if !ok || raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s: %q is not an integer from %d to %d", name, raw, lo, hi)
	}
	return n, nil
}

const (
	defaultPageSize = 50
	maxPageSize     = 500
	maxOffset       = 1 << 30
)

// page reads limit and offset.
func page(c *gin.Context) (limit, offset int, err error) {
	if limit, err = queryInt(c, "limit", defaultPageSize, 1, maxPageSize); err != nil {
		return 0, 0, err
	}
	if offset, err = queryInt(c, "offset", 0, 0, maxOffset); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

// The text rules every resource shares live with the operations.
var (
	cleanName      = manage.CleanName
	cleanText      = manage.CleanText
	checkPrintable = manage.CheckPrintable
	clip           = manage.Clip
)

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// The handlers that only differ in the resource they touch share these.

// listAll answers the rows whose name contains q as a JSON array: all of
// them, or the page that limit and offset choose when either is given.
// X-Total-Count has the number of rows q selects. These lists are
// configuration (sites, profiles, ...), small enough to page in memory.
func listAll[T any](c *gin.Context, list func(context.Context) ([]T, error), name func(T) string) error {
	return listPaged(c, pagedList(list, name))
}

// pagedList pages in memory the rows list gives, by name.
func pagedList[T any](list func(context.Context) ([]T, error), name func(T) string) func(context.Context, listQuery) ([]T, int, error) {
	return func(ctx context.Context, lq listQuery) ([]T, int, error) {
		rows, err := list(ctx)
		if err != nil {
			return nil, 0, err
		}
		rows, total := pageRows(lq, rows, name)
		return rows, total, nil
	}
}

// listPaged answers the page of rows the request's list query chooses,
// with X-Total-Count.
func listPaged[T any](c *gin.Context, page func(context.Context, listQuery) ([]T, int, error)) error {
	lq, err := readList(c)
	if err != nil {
		return err
	}
	rows, total, err := page(c.Request.Context(), lq)
	if err != nil {
		return err
	}
	writeList(c, rows, total)
	return nil
}

// getOne answers the row :id names; get refuses a missing one itself.
func getOne[T any](c *gin.Context, get func(context.Context, int64) (T, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	row, err := get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, row)
	return nil
}

// deleteOne deletes the row :id names; del explains its own refusals.
func deleteOne(c *gin.Context, del func(context.Context, int64) error) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := del(c.Request.Context(), id); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// created answers 201 with the new row and its address.
func created(c *gin.Context, collection string, id int64, row any) {
	c.Header("Location", fmt.Sprintf("/api/v1/%s/%d", collection, id))
	c.JSON(http.StatusCreated, row)
}
