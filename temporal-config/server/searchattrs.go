package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc"
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
	forEachNamespace(ctx, addr, namespaces, warn, func(ctx context.Context, conn *grpc.ClientConn, ns string) error {
		_, err := operatorservice.NewOperatorServiceClient(conn).AddSearchAttributes(ctx,
			&operatorservice.AddSearchAttributesRequest{Namespace: ns, SearchAttributes: attrs})
		var exists *serviceerror.AlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
}
