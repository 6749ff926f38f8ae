package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/scantron/scantron/activities"
	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/signing"
	"github.com/scantron/scantron/storage/objects"
	"github.com/scantron/scantron/workflows"
)

// forgeryInput is what the test's own workflow sends to an agent.
type forgeryInput struct {
	TaskQueue string
	Spec      scan.Spec
}

// forgeryWorkflow is what someone with access to Temporal alone can do:
// schedule the agent's RunScan activity, on the agent's task queue, with a
// spec of their making.
func forgeryWorkflow(ctx workflow.Context, in forgeryInput) (activities.RunScanResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           in.TaskQueue,
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var out activities.RunScanResult
	err := workflow.ExecuteActivity(ctx, "RunScan", activities.RunScanInput{Spec: in.Spec}).Get(ctx, &out)
	return out, err
}

// TestAgentRefusesForgedSpecs runs the real agent binary and, through
// Temporal only, hands it specs that the server did not sign, or signed
// and then altered: each is refused, non-retryably, naming the reason, and
// nothing is scanned or uploaded. A spec the server's key signed runs.
func TestAgentRefusesForgedSpecs(t *testing.T) {
	target := newTargetHost(t)
	agentName := fmt.Sprintf("e2e-forged-%d", os.Getpid())
	// The agent has no S3 settings: the specs carry presigned URLs.
	startScantron(t, append(stack.AgentEnv(), "SCANTRON_AGENT_NAME="+agentName), "agent")

	tc, err := client.Dial(client.Options{HostPort: stack.Temporal.HostPort, Namespace: stack.Temporal.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	queue := "e2e-forger-" + agentName
	w := worker.New(tc, queue, worker.Options{})
	w.RegisterWorkflow(forgeryWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	serverKey, err := signing.ReadPrivateKeyFile(stack.SigningKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	server, _ := signing.NewSigner(serverKey)
	otherKey, _ := signing.GenerateKey()
	other, _ := signing.NewSigner(otherKey)

	objs, err := objects.New(objects.Config{Endpoint: stack.S3.Endpoint, AccessKey: stack.S3.AccessKey, SecretKey: stack.S3.SecretKey, Bucket: stack.S3.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	agentQueue := workflows.AgentTaskQueue(agentName)
	// dispatched is a spec bound, as the server binds it, to its first
	// attempt on queue, with presigned URLs for that attempt's objects.
	dispatched := func(runID int64, queue string) scan.Spec {
		spec := scan.Spec{RunID: runID, ShardID: runID, Scanner: scan.Nmap,
			Options: []string{"-n", "-Pn", "-sT", "-p", "2222"}, Targets: []string{target.Addr}}
		urls := scan.ShardURLs{Bucket: objs.Bucket()}
		var err error
		if urls.OutputPut, err = objs.PresignPut(context.Background(), scan.RawKey(runID, runID, 1, scan.Nmap), time.Hour); err != nil {
			t.Fatal(err)
		}
		if urls.ResumePut, err = objs.PresignPut(context.Background(), scan.PartialKey(runID, runID, 1), time.Hour); err != nil {
			t.Fatal(err)
		}
		spec.Dispatch = &scan.Dispatch{TaskQueue: queue, Attempt: 1, Nonce: fmt.Sprintf("e2e-%d", runID), Objects: urls}
		return spec
	}
	spec := func(runID int64) scan.Spec { return dispatched(runID, agentQueue) }
	base := int64(880000 + os.Getpid()%10000*10)
	expires := time.Now().Add(time.Hour)
	altered := server.Sign(spec(base+3), expires)
	altered.Targets = append(altered.Targets, "198.18.255.254")
	unbound := spec(base + 6)
	unbound.Dispatch = nil
	tests := []struct {
		name string
		spec scan.Spec
		want string // "" = the scan runs
	}{
		{"unsigned", spec(base + 1), "spec is not signed"},
		{"signed by another key", other.Sign(spec(base+2), expires), "does not verify"},
		{"signed, then a target added", altered, "does not verify"},
		{"expired", server.Sign(spec(base+4), time.Now().Add(-time.Minute)), "expired"},
		{"signed for no dispatch", server.Sign(unbound, expires), "not bound to a dispatch"},
		{"dispatched to another agent's queue", server.Sign(dispatched(base+7, workflows.AgentTaskQueue("someone-else")), expires), "another task queue"},
		{"signed by the server", server.Sign(spec(base+5), expires), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue},
				forgeryWorkflow, forgeryInput{TaskQueue: agentQueue, Spec: tt.spec})
			if err != nil {
				t.Fatal(err)
			}
			var res activities.RunScanResult
			err = run.Get(ctx, &res)
			if tt.want == "" {
				if err != nil || res.Raw.Key != scan.RawKey(tt.spec.RunID, tt.spec.ShardID, 1, scan.Nmap) {
					t.Fatalf("the server-signed spec did not run: %+v, %v", res, err)
				}
				if info, err := s3Stat(t, res.Raw.Key); err != nil || info.Size != res.Raw.Size {
					t.Errorf("its output is not in S3: %+v, %v", info, err)
				}
				return
			}
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidSpec || !app.NonRetryable() || !strings.Contains(app.Error(), tt.want) {
				t.Fatalf("agent answered %v; want a non-retryable %s error saying %q", err, activities.ErrTypeInvalidSpec, tt.want)
			}
			if _, err := s3Stat(t, scan.RawKey(tt.spec.RunID, tt.spec.ShardID, 1, scan.Nmap)); err == nil {
				t.Error("the agent uploaded output for a refused spec")
			}
		})
	}
}

func s3Stat(t *testing.T, key string) (minio.ObjectInfo, error) {
	t.Helper()
	c, err := minio.New(stack.S3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(stack.S3.AccessKey, stack.S3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c.StatObject(context.Background(), stack.S3.Bucket, key, minio.StatObjectOptions{})
}
