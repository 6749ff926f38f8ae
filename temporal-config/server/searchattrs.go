package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// parseSearchAttributes reads NAME=Type flags (Keyword, Text, Int, Double,
// Bool, Datetime, KeywordList).
func parseSearchAttributes(flags []string) (map[string]enumspb.IndexedValueType, error) {
	out := map[string]enumspb.IndexedValueType{}
	for _, f := range flags {
		name, typ, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--search-attribute %q: want NAME=Type", f)
		}
		t, err := enumspb.IndexedValueTypeFromString(typ)
		if err != nil || t == enumspb.INDEXED_VALUE_TYPE_UNSPECIFIED {
			return nil, fmt.Errorf("--search-attribute %q: unknown type %q", f, typ)
		}
		out[name] = t
	}
	return out, nil
}

// registerSearchAttributes adds the search attributes to each namespace
// through the internal frontend (the one the system workers use, which
// needs no token), retrying until the server answers. Clients such as the
// scantron server hold no admin rights, so they cannot do it themselves.
func registerSearchAttributes(ctx context.Context, addr string, namespaces []string, attrs map[string]enumspb.IndexedValueType, warn func(error)) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		warn(err)
		return
	}
	defer conn.Close()
	op := operatorservice.NewOperatorServiceClient(conn)
	for _, ns := range namespaces {
		for attempt := 0; ; attempt++ {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := op.AddSearchAttributes(cctx, &operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: attrs})
			cancel()
			var exists *serviceerror.AlreadyExists
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
