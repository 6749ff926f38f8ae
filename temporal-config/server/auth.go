package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/server/common/authorization"
)

// Claim names of the tokens the scantron server issues. permissions is
// Temporal's own (`<namespace>:<role>`); queues lists the activity task
// queues an agent token may poll.
const (
	claimPermissions = "permissions"
	claimQueues      = "scantron_queues"
)

// maxTokenLifetime bounds exp-iat: a leaked token is useful for this long at
// most, whatever its issuer wrote.
const maxTokenLifetime = 24 * time.Hour

// agentScope is carried in Claims.Extensions of an agent token: the task
// queues it may poll. Any token with a queues claim is an agent token, and
// gets only agentAPIs, whatever roles it also claims.
type agentScope struct {
	Queues []string
}

// claimMapper turns a bearer JWT into Claims. Unlike Temporal's default
// mapper it requires exp, checks issuer and audience, and keeps the queues
// claim. A call without a token gets empty claims (so only health checks).
// A refused token fails the call with Temporal's bare "Request
// unauthorized." (the reason goes to the server's log only), which tells
// it apart from the authorizer's denials: those carry a reason.
type claimMapper struct {
	keys     *keySet
	issuer   string
	audience string
}

func (m *claimMapper) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	claims := &authorization.Claims{AuthType: "jwt"}
	if info.AuthToken == "" {
		return claims, nil
	}
	scheme, raw, ok := strings.Cut(info.AuthToken, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return nil, serviceerror.NewPermissionDenied("authorization: expected a bearer token", "")
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"ES256", "RS256"}))
	tok, err := parser.ParseWithClaims(raw, jwt.MapClaims{}, m.keys.keyFunc)
	if err != nil {
		return nil, serviceerror.NewPermissionDenied("authorization: token refused: "+err.Error(), "")
	}
	jc, ok := tok.Claims.(jwt.MapClaims)
	if !ok {
		return nil, serviceerror.NewPermissionDenied("authorization: token refused: no claims", "")
	}
	if err := m.check(jc); err != nil {
		return nil, serviceerror.NewPermissionDenied("authorization: token refused: "+err.Error(), "")
	}
	claims.Subject, _ = jc["sub"].(string)
	if claims.Subject == "" {
		return nil, serviceerror.NewPermissionDenied("authorization: token refused: no subject", "")
	}
	perms, _ := jc[claimPermissions].([]any)
	for _, p := range perms {
		s, _ := p.(string)
		ns, role, ok := strings.Cut(s, ":")
		if !ok {
			continue
		}
		r := roleOf(role)
		if ns == "temporal-system" {
			claims.System |= r
			continue
		}
		if claims.Namespaces == nil {
			claims.Namespaces = map[string]authorization.Role{}
		}
		claims.Namespaces[ns] |= r
	}
	if q, present := jc[claimQueues]; present {
		list, _ := q.([]any)
		scope := &agentScope{}
		for _, v := range list {
			if s, ok := v.(string); ok && s != "" {
				scope.Queues = append(scope.Queues, s)
			}
		}
		claims.Extensions = scope
	}
	return claims, nil
}

func (m *claimMapper) check(jc jwt.MapClaims) error {
	now := time.Now()
	exp, ok := jc["exp"].(float64)
	if !ok {
		return errors.New("no expiry")
	}
	// ParseWithClaims already refused an expired token; a token valid for
	// longer than maxTokenLifetime is refused too.
	if time.Unix(int64(exp), 0).After(now.Add(maxTokenLifetime)) {
		return errors.New("expiry too far ahead")
	}
	if m.issuer != "" && !jc.VerifyIssuer(m.issuer, true) {
		return errors.New("wrong issuer")
	}
	if m.audience != "" && !jc.VerifyAudience(m.audience, true) {
		return errors.New("wrong audience")
	}
	return nil
}

func roleOf(s string) authorization.Role {
	switch strings.ToLower(s) {
	case "read":
		return authorization.RoleReader
	case "write":
		return authorization.RoleWriter
	case "worker":
		return authorization.RoleWorker
	case "admin":
		return authorization.RoleAdmin
	}
	return authorization.RoleUndefined
}

const workflowService = "/temporal.api.workflowservice.v1.WorkflowService/"

// agentAPIs are the only calls an agent token may make: what an activity
// worker needs to take its own tasks, report on them, and shut down.
// The task-token calls are safe to allow by name: a task token names the
// workflow run and activity, and the history service accepts it only for the
// activity attempt that is running, which an agent learns only by polling.
var agentAPIs = map[string]func(*agentScope, any) error{
	"PollActivityTaskQueue":        pollOwnQueue,
	"RecordActivityTaskHeartbeat":  nil,
	"RespondActivityTaskCompleted": nil,
	"RespondActivityTaskFailed":    nil,
	"RespondActivityTaskCanceled":  nil,
	"DescribeNamespace":            nil,
	"GetSystemInfo":                nil,
	"ShutdownWorker":               nil,
	"RecordWorkerHeartbeat":        nil,
}

// authorizer lets agent tokens make agentAPIs calls on their own queues in a
// namespace where they hold the worker role, and gives every other token
// Temporal's standard role-based decision.
type authorizer struct {
	standard authorization.Authorizer
}

func (a *authorizer) Authorize(ctx context.Context, claims *authorization.Claims, target *authorization.CallTarget) (authorization.Result, error) {
	if authorization.IsHealthCheckAPI(target.APIName) {
		return authorization.Result{Decision: authorization.DecisionAllow}, nil
	}
	if claims == nil {
		return deny("no credentials"), nil
	}
	scope, isAgent := claims.Extensions.(*agentScope)
	if !isAgent {
		res, err := a.standard.Authorize(ctx, claims, target)
		if err == nil && res.Decision != authorization.DecisionAllow && res.Reason == "" {
			res.Reason = "role check: the token's roles do not allow " + strings.TrimPrefix(target.APIName, workflowService)
		}
		return res, err
	}
	method, ok := strings.CutPrefix(target.APIName, workflowService)
	if !ok {
		return deny("agent token: " + target.APIName + " not allowed"), nil
	}
	check, ok := agentAPIs[method]
	if !ok {
		return deny("agent token: " + method + " not allowed"), nil
	}
	if target.Namespace != "" && (claims.System|claims.Namespaces[target.Namespace])&authorization.RoleWorker == 0 {
		return deny("agent token: no worker role in namespace " + target.Namespace), nil
	}
	if check != nil {
		if err := check(scope, target.Request); err != nil {
			return deny("agent token: " + err.Error()), nil
		}
	}
	return authorization.Result{Decision: authorization.DecisionAllow}, nil
}

func deny(reason string) authorization.Result {
	return authorization.Result{Decision: authorization.DecisionDeny, Reason: reason}
}

func pollOwnQueue(scope *agentScope, req any) error {
	r, ok := req.(*workflowservice.PollActivityTaskQueueRequest)
	if !ok {
		return errors.New("unexpected request")
	}
	tq := r.GetTaskQueue()
	if k := tq.GetKind(); k != enumspb.TASK_QUEUE_KIND_NORMAL && k != enumspb.TASK_QUEUE_KIND_UNSPECIFIED {
		return fmt.Errorf("task queue kind %s not allowed", k)
	}
	name := baseQueue(tq)
	if !slices.Contains(scope.Queues, name) {
		return fmt.Errorf("task queue %q is not one of the token's queues", tq.GetName())
	}
	return nil
}

// baseQueue returns the user-visible name of a task queue, without the
// partition form `/_sys/<name>/<n>` the SDK and matching service may use.
func baseQueue(tq *taskqueuepb.TaskQueue) string {
	name := tq.GetName()
	rest, ok := strings.CutPrefix(name, "/_sys/")
	if !ok {
		return name
	}
	if i := strings.LastIndexByte(rest, '/'); i > 0 {
		return rest[:i]
	}
	return "/_sys/" + rest // malformed: matches no claimed queue
}

// keySet holds the issuer's public keys, read from JWKS URLs (the scantron
// server's /.well-known/jwks.json, or file:// for tests). It refreshes
// every interval, and at once (at most every minRefetch) when a token
// names a key it does not know: a rotated-in key, or a server that started
// after Temporal.
type keySet struct {
	urls     []string
	interval time.Duration

	mu        sync.Mutex
	keys      map[string]any
	lastFetch time.Time
}

const minRefetch = 2 * time.Second

func newKeySet(urls []string, interval time.Duration) *keySet {
	return &keySet{urls: urls, interval: interval, keys: map[string]any{}}
}

func (k *keySet) run(ctx context.Context, logf func(string, error)) {
	t := time.NewTicker(k.interval)
	defer t.Stop()
	for {
		if err := k.refresh(); err != nil {
			logf("jwks refresh", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *keySet) keyFunc(tok *jwt.Token) (any, error) {
	kid, _ := tok.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("no key id")
	}
	k.mu.Lock()
	key, ok := k.keys[kid]
	stale := time.Since(k.lastFetch) >= minRefetch
	k.mu.Unlock()
	if !ok && stale {
		if err := k.refresh(); err != nil {
			return nil, err
		}
		k.mu.Lock()
		key, ok = k.keys[kid]
		k.mu.Unlock()
	}
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	switch key.(type) {
	case *ecdsa.PublicKey:
		if _, ok := tok.Method.(*jwt.SigningMethodECDSA); ok {
			return key, nil
		}
	case *rsa.PublicKey:
		if _, ok := tok.Method.(*jwt.SigningMethodRSA); ok {
			return key, nil
		}
	}
	return nil, fmt.Errorf("key %q does not fit algorithm %v", kid, tok.Header["alg"])
}

func (k *keySet) refresh() error {
	k.mu.Lock()
	k.lastFetch = time.Now()
	k.mu.Unlock()
	keys := map[string]any{}
	for _, u := range k.urls {
		if err := fetchJWKS(u, keys); err != nil {
			return fmt.Errorf("%s: %w", u, err)
		}
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

var jwksClient = &http.Client{Timeout: 10 * time.Second}

func fetchJWKS(url string, into map[string]any) error {
	var body io.ReadCloser
	if path, ok := strings.CutPrefix(url, "file://"); ok {
		f, err := openFile(path)
		if err != nil {
			return err
		}
		body = f
	} else {
		resp, err := jwksClient.Get(url)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return fmt.Errorf("status %s", resp.Status)
		}
		body = resp.Body
	}
	defer body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(body, 1<<20)).Decode(&set); err != nil {
		return err
	}
	for _, key := range set.Keys {
		switch pub := key.Key.(type) {
		case *ecdsa.PublicKey, *rsa.PublicKey:
			into[key.KeyID] = pub
		}
	}
	return nil
}
