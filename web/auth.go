package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/scantron/scantron/accounts"
	"github.com/scantron/scantron/scan"
)

// AccountStore keeps users, their browser sessions and their API tokens.
type AccountStore interface {
	GetUser(ctx context.Context, id int64) (accounts.User, error)
	GetUserByName(ctx context.Context, name string) (accounts.User, error)

	CreateSession(ctx context.Context, secretHash []byte, s accounts.Session) error
	GetSession(ctx context.Context, secretHash []byte, now time.Time) (accounts.Session, accounts.User, error)
	DeleteSession(ctx context.Context, secretHash []byte) error
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	CreateToken(ctx context.Context, userID int64, name, prefix string, secretHash []byte, expiresAt time.Time) (accounts.Token, error)
	ListTokens(ctx context.Context, userID int64) ([]accounts.Token, error)
	UserByToken(ctx context.Context, secretHash []byte, now time.Time) (accounts.User, error)
	RevokeToken(ctx context.Context, id, userID int64) error
}

// public is the "role" of routes anyone may use: the health check, the
// login page and the static files.
const public accounts.Role = ""

const (
	sessionCookie    = "scantron_session"
	loginCSRFCookie  = "scantron_login"
	csrfField        = "csrf_token"
	csrfHeader       = "X-CSRF-Token"
	sessionLifetime  = 12 * time.Hour
	principalKey     = "scantron.principal"
	tokenPrefixShown = len(accounts.TokenPrefix) + 6
)

// principal is who sent a request and how they proved it.
type principal struct {
	user accounts.User
	// csrf is the session's CSRF token; empty for API tokens, which a
	// browser never sends on its own and so need none.
	csrf string
}

// authn finds who sent requests and guards the routes.
type authn struct {
	base
	store         AccountStore
	now           func() time.Time
	secureCookies bool
	limiter       *loginLimiter
}

// identify returns the request's principal, nil when it carries no
// credentials, or an error for credentials that are wrong (a 401) or a
// store that failed.
func (a *authn) identify(c *gin.Context) (*principal, error) {
	ctx := c.Request.Context()
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, secret, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			return nil, errorf(http.StatusUnauthorized, "Authorization must be \"Bearer <API token>\"")
		}
		u, err := a.store.UserByToken(ctx, accounts.HashSecret(strings.TrimSpace(secret)), a.now())
		if err != nil {
			return nil, mapErr(err, scan.ErrNotFound, http.StatusUnauthorized, "the API token is not valid: it is unknown, expired or was revoked")
		}
		return &principal{user: u}, nil
	}
	secret, err := c.Cookie(sessionCookie)
	if err != nil || secret == "" {
		return nil, nil
	}
	sess, u, err := a.store.GetSession(ctx, accounts.HashSecret(secret), a.now())
	if errors.Is(err, scan.ErrNotFound) {
		return nil, nil // expired or logged out: as good as no cookie
	}
	if err != nil {
		return nil, err
	}
	return &principal{user: u, csrf: sess.CSRF}, nil
}

// require guards a route: the request must come from a user whose role
// allows need, and a browser session's unsafe requests must carry the
// session's CSRF token.
func (a *authn) require(need accounts.Role, pages *uiHandlers) gin.HandlerFunc {
	return func(c *gin.Context) {
		if need == public {
			c.Next()
			return
		}
		refuse := func(err error) {
			if isAPI(c) {
				var he *httpError
				if errors.As(err, &he) && he.status == http.StatusUnauthorized {
					c.Header("WWW-Authenticate", `Bearer realm="scantron"`)
				}
				a.fail(c, err)
				return
			}
			pages.fail(c, err)
		}
		p, err := a.identify(c)
		if err != nil {
			refuse(err)
			return
		}
		if p == nil {
			if !isAPI(c) && c.Request.Method == http.MethodGet {
				c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request.URL.RequestURI()))
				c.Abort()
				return
			}
			refuse(errorf(http.StatusUnauthorized, "authentication required: log in, or send \"Authorization: Bearer <API token>\""))
			return
		}
		if !p.user.Role.Allows(need) {
			refuse(errorf(http.StatusForbidden, "%s %s needs the %s role; %s has the %s role",
				c.Request.Method, c.FullPath(), need, p.user.Name, p.user.Role))
			return
		}
		if p.csrf != "" && !safeMethod(c.Request.Method) && !accounts.SameSecret(requestCSRF(c), p.csrf) {
			refuse(errorf(http.StatusForbidden, "the request lacks this session's CSRF token; reload the page and try again"))
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// requestCSRF reads the CSRF token from the header scripts send, or from
// the field forms send.
func requestCSRF(c *gin.Context) string {
	if v := c.GetHeader(csrfHeader); v != "" {
		return v
	}
	if c.ContentType() == "multipart/form-data" && streamedUploads[c.FullPath()] {
		return streamedCSRF(c)
	}
	if ct := c.ContentType(); ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data" {
		return c.PostForm(csrfField)
	}
	return ""
}

// who is the principal require admitted; routes behind require always
// have one.
// roleOf is the role of who sent the request; "" (no role) when unknown.
func roleOf(c *gin.Context) accounts.Role {
	if p := who(c); p != nil {
		return p.user.Role
	}
	return ""
}

func who(c *gin.Context) *principal {
	if v, ok := c.Get(principalKey); ok {
		if p, ok := v.(*principal); ok {
			return p
		}
	}
	return nil
}

// login checks a name and password under the rate limit; the error is the
// one to show the client.
func (a *authn) login(c *gin.Context, name, password string) (accounts.User, error) {
	name = strings.TrimSpace(name)
	ip := limiterClient(c)
	if wait := a.limiter.blocked(ip, name); wait > 0 {
		c.Header("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return accounts.User{}, errorf(http.StatusTooManyRequests,
			"too many failed logins; try again in %s", wait.Round(time.Second))
	}
	if name == "" || password == "" {
		return accounts.User{}, badRequest("name and password are required")
	}
	var (
		u   accounts.User
		err error
	)
	// A name no account can have (too long, NUL, not UTF-8) or a password
	// no account can have is a failed login like any other: it costs the
	// same time and counts against the limit, without a database lookup
	// that PostgreSQL might refuse.
	if accounts.CheckName(name) != nil || len(password) > accounts.MaxPasswordLen {
		err = scan.ErrNotFound
	} else {
		u, err = a.store.GetUserByName(c.Request.Context(), name)
	}
	switch {
	case errors.Is(err, scan.ErrNotFound):
		accounts.SpendPasswordCheck(password)
	case err != nil:
		return accounts.User{}, err
	default:
		err = accounts.CheckPassword(u.PasswordHash, password)
		if err == nil {
			a.limiter.succeeded(ip, name)
			return u, nil
		}
		if !errors.Is(err, accounts.ErrWrongPassword) {
			return accounts.User{}, err
		}
	}
	a.limiter.failed(ip, name)
	a.log.WarnContext(c.Request.Context(), "failed login", "user", name, "remote", ip) // bounded by boundLogs
	return accounts.User{}, errorf(http.StatusUnauthorized, "wrong user name or password")
}

// startSession logs a browser in: a new random session whose secret only
// the cookie holds.
func (a *authn) startSession(c *gin.Context, u accounts.User) error {
	secret := accounts.NewSecret()
	sess := accounts.Session{UserID: u.ID, CSRF: accounts.NewSecret(), ExpiresAt: a.now().Add(sessionLifetime)}
	if err := a.store.CreateSession(c.Request.Context(), accounts.HashSecret(secret), sess); err != nil {
		return err
	}
	a.setCookie(c, sessionCookie, secret, int(sessionLifetime.Seconds()))
	// Logins are rare enough to be the moment to sweep ended sessions.
	if _, err := a.store.DeleteExpiredSessions(c.Request.Context(), a.now()); err != nil {
		a.log.WarnContext(c.Request.Context(), "removing expired sessions", "err", err)
	}
	return nil
}

func (a *authn) endSession(c *gin.Context) error {
	if secret, err := c.Cookie(sessionCookie); err == nil && secret != "" {
		if err := a.store.DeleteSession(c.Request.Context(), accounts.HashSecret(secret)); err != nil {
			return err
		}
	}
	a.setCookie(c, sessionCookie, "", -1)
	return nil
}

// setCookie sets an HttpOnly, SameSite=Lax cookie, Secure when the request
// came over TLS or the server is told it sits behind TLS.
func (a *authn) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: a.secureCookies || c.Request.TLS != nil,
	})
}

// newToken makes an API token for u that works for days (0: the default
// lifetime) and returns the secret, which is not kept anywhere.
func (a *authn) newToken(ctx context.Context, u accounts.User, name string, days int) (accounts.Token, string, error) {
	name, err := cleanName("name", name)
	if err != nil {
		return accounts.Token{}, "", err
	}
	if days == 0 {
		days = accounts.DefaultTokenDays
	}
	if days < 1 || days > accounts.MaxTokenDays {
		return accounts.Token{}, "", badRequest("expires_in_days: %d is not from 1 to %d", days, accounts.MaxTokenDays)
	}
	secret := accounts.NewToken()
	t, err := a.store.CreateToken(ctx, u.ID, name, secret[:tokenPrefixShown], accounts.HashSecret(secret), a.now().AddDate(0, 0, days))
	return t, secret, err
}
