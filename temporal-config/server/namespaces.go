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
	forEachNamespace(ctx, addr, namespaces, warn, func(ctx context.Context, conn *grpc.ClientConn, ns string) error {
		_, err := workflowservice.NewWorkflowServiceClient(conn).RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        ns,
			WorkflowExecutionRetentionPeriod: durationpb.New(namespaceRetention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
}

// forEachNamespace calls do for each namespace over one connection to the
// internal frontend at addr, each call bounded to 10 s and tried again every
// second until it succeeds or ctx ends; every 30th failure in a row is
// passed to warn.
func forEachNamespace(ctx context.Context, addr string, namespaces []string, warn func(error), do func(context.Context, *grpc.ClientConn, string) error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		warn(err)
		return
	}
	defer conn.Close()
	for _, ns := range namespaces {
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := do(cctx, conn, ns)
			cancel()
			if err == nil {
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
