package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"
)

// namespaceRetention is how long closed workflows stay, as for the
// namespaces the SQLite mode writes (Scantron keeps runs in its own
// database; Temporal's histories are for debugging).
const namespaceRetention = 24 * time.Hour

// registerNamespaces registers each namespace through the internal
// frontend, retrying until the server answers; one that exists is left as
// it is.
func registerNamespaces(ctx context.Context, addr string, namespaces []string, warn func(error)) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		warn(err)
		return
	}
	defer conn.Close()
	ws := workflowservice.NewWorkflowServiceClient(conn)
	for _, ns := range namespaces {
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := ws.RegisterNamespace(cctx, &workflowservice.RegisterNamespaceRequest{
				Namespace:                        ns,
				WorkflowExecutionRetentionPeriod: durationpb.New(namespaceRetention),
			})
			cancel()
			var exists *serviceerror.NamespaceAlreadyExists
			if err == nil || errors.As(err, &exists) {
				break
			}
			if attempt%30 == 29 {
				warn(fmt.Errorf("namespace %s: %w", ns, err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}
}
