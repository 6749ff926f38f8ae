package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The client verbs talk to a Scantron server's REST API with an API token,
// which `scantron login` stores in the user's config directory.

// credentials are what login stores.
type credentials struct {
	URL     string `json:"url"`
	Token   string `json:"token"`
	TokenID int64  `json:"token_id"`
	User    string `json:"user"`
}

func credentialsPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			return "", errors.New("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the login")
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "scantron", "credentials.json"), nil
}

func loadCredentials(getenv func(string) string) (credentials, error) {
	var c credentials
	if path, err := credentialsPath(getenv); err == nil {
		if b, err := os.ReadFile(path); err == nil {
			if err := json.Unmarshal(b, &c); err != nil {
				return c, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if v := getenv("SCANTRON_URL"); v != "" {
		c.URL = v
	}
	if v := getenv("SCANTRON_TOKEN"); v != "" {
		c.Token = v
	}
	if c.URL == "" || c.Token == "" {
		return c, usageError{"not logged in: run 'scantron login --url URL --name NAME', or set SCANTRON_URL and SCANTRON_TOKEN"}
	}
	return c, nil
}

// apiClient sends JSON requests with the token and turns the API's
// {"error": ...} answers into errors.
type apiClient struct {
	base  string
	token string
	http  *http.Client
	// stream is for event streams, which last as long as what they follow:
	// no overall timeout (see watchRun for how a dead one is noticed).
	stream *http.Client
}

func newAPIClient(c credentials) apiClient {
	return apiClient{base: strings.TrimRight(c.URL, "/") + "/api/v1", token: c.Token, http: &http.Client{Timeout: 60 * time.Second},
		stream: &http.Client{}}
}

// apiError is an error answer of the API.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.msg, e.status) }

func (a apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	if body == nil {
		return a.sendBody(ctx, method, path, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return a.sendBody(ctx, method, path, "application/json", bytes.NewReader(b))
}

// sendBody sends a body of any type (none when rd is nil).
func (a apiClient) sendBody(ctx context.Context, method, path, contentType string, rd io.Reader) (*http.Response, error) {
	return a.sendWith(ctx, a.http, method, path, contentType, rd)
}

// sendWith sends a request with the client hc.
func (a apiClient) sendWith(ctx context.Context, hc *http.Client, method, path, contentType string, rd io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return nil, &apiError{status: resp.StatusCode, msg: e.Error}
	}
	return resp, nil
}

// read sends a request and returns the whole answer, with its headers.
func (a apiClient) read(ctx context.Context, method, path string, body any) ([]byte, http.Header, error) {
	resp, err := a.send(ctx, method, path, body)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return data, resp.Header, err
}

func (a apiClient) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := a.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func splitList(s string) []string { return splitBy(s, ",") }

func splitBy(s, sep string) []string {
	out := []string{}
	for _, f := range strings.Split(s, sep) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func clientLogin(ctx context.Context, base, name string, asJSON bool, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{"--url: want the server's http(s) address, e.g. http://127.0.0.1:8080"}
	}
	if name == "" {
		return usageError{"--name is required"}
	}
	password, err := readPassword(getenv, "SCANTRON_PASSWORD", stdin, bufio.NewReader(stdin), stderr, "Password for "+name+": ")
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	var tok struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	api := newAPIClient(credentials{URL: base})
	answer, _, err := api.read(ctx, "POST", "/login", map[string]string{"name": name, "password": password, "token_name": "cli@" + host})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(answer, &tok); err != nil {
		return fmt.Errorf("the login answer: %w", err)
	}
	path, err := credentialsPath(getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(credentials{URL: strings.TrimRight(base, "/"), Token: tok.Token, TokenID: tok.ID, User: name}, "", "  ")
	// Written under a temporary name with 0600 from the first byte, then
	// renamed, so the token is never readable by others, even briefly.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if asJSON {
		_, err := fmt.Fprintln(stdout, strings.TrimSpace(string(answer)))
		return err
	}
	fmt.Fprintf(stdout, "logged in to %s as %s; token stored in %s\n", base, name, path)
	return nil
}

func clientLogout(ctx context.Context, getenv func(string) string, asJSON bool, stdout io.Writer) error {
	path, err := credentialsPath(getenv)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if !asJSON {
			fmt.Fprintln(stdout, "not logged in")
		}
		return nil
	}
	if err != nil {
		return err
	}
	var c credentials
	if err := json.Unmarshal(b, &c); err == nil && c.TokenID > 0 {
		err := newAPIClient(c).do(ctx, "DELETE", fmt.Sprintf("/tokens/%d", c.TokenID), nil, nil)
		var ae *apiError
		if err != nil && !(errors.As(err, &ae) && (ae.status == http.StatusUnauthorized || ae.status == http.StatusNotFound)) {
			return fmt.Errorf("revoke the token (still stored in %s): %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	if asJSON {
		return nil // the API answers the revocation with no body
	}
	fmt.Fprintln(stdout, "logged out; the token is revoked")
	return nil
}

// clientRun is what the CLI reads of a run it starts.
type clientRun struct {
	ID         int64  `json:"id"`
	WorkflowID string `json:"workflow_id"`
}
