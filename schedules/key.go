package schedules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/scantron/scantron/scan"
	"github.com/scantron/scantron/scan/schedule"
	"github.com/scantron/scantron/workflows"
)

// KeyAttribute is the Keyword search attribute in which each schedule
// carries its Key. ListSchedules returns it, so the reconciler learns from
// one paged listing which schedules are current and describes only the
// others. It must be registered in the namespace (EnsureKeyAttribute).
const KeyAttribute = "ScantronScheduleKey"

var keyAttr = temporal.NewSearchAttributeKeyKeyword(KeyAttribute)

// keyVersion changes whenever Desired builds a different schedule from
// the same scan (new action, task queue, policy mapping...), so that every
// schedule is brought up to date once after an upgrade.
const keyVersion = "1"

// Key says which scan definition a schedule was built from and until when
// it stays right without that definition changing.
type Key struct {
	// Hash is Hash of the scan the schedule was built from.
	Hash string
	// Due, when set, is when the schedule needs another look although
	// the scan is unchanged: an enumerated spec that needs topping up, or
	// a finite rule whose last fire is past (its schedule goes).
	Due time.Time
}

// Current reports whether a schedule carrying k is up to date for a scan
// whose Hash is hash, at now.
func (k Key) Current(hash string, now time.Time) bool {
	return k.Hash != "" && k.Hash == hash && (k.Due.IsZero() || now.Before(k.Due))
}

// String is the attribute's value: version, hash, due (Unix seconds, 0 for none).
func (k Key) String() string {
	var due int64
	if !k.Due.IsZero() {
		due = k.Due.Unix()
	}
	return keyVersion + ":" + k.Hash + ":" + strconv.FormatInt(due, 10)
}

// ParseKey reads a Key back; a value of another version or shape gives
// the zero Key, which is never Current.
func ParseKey(v string) Key {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[0] != keyVersion || parts[1] == "" {
		return Key{}
	}
	due, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Key{}
	}
	k := Key{Hash: parts[1]}
	if due != 0 {
		k.Due = time.Unix(due, 0).UTC()
	}
	return k
}

func (k Key) attributes(keyed bool) temporal.SearchAttributes {
	if !keyed {
		return temporal.SearchAttributes{}
	}
	return temporal.NewSearchAttributes(keyAttr.ValueSet(k.String()))
}

// KeyOf reads the Key from a schedule's search attributes, as both
// DescribeSchedule and ListSchedules return them.
func KeyOf(sa *commonpb.SearchAttributes) Key {
	p := sa.GetIndexedFields()[KeyAttribute]
	if p == nil {
		return Key{}
	}
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		return Key{}
	}
	return ParseKey(v)
}

// Hash digests every field of a scan (and server default) that Desired
// reads, so that equal hashes mean equal schedules.
func Hash(sc scan.Scan, d Defaults) string {
	var b strings.Builder
	field := func(v string) {
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	start := ""
	if sc.StartAt != nil {
		start = sc.StartAt.UTC().Format(time.RFC3339Nano)
	}
	field(keyVersion)
	field(strconv.FormatInt(sc.ID, 10))
	field(start)
	field(sc.TimeZone)
	field(sc.RRule)
	field(strconv.FormatBool(sc.Enabled))
	field(sc.Overlap)
	field(catchupWindow(sc, d).String())
	field(sc.PauseNote)
	field(workflows.ServerTaskQueue)
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// due is when a schedule built as of now needs another look although its
// scan is unchanged: an enumerated spec once half its fire times are used,
// a finite rule a minute after its last fire (Desired then wants none).
func due(rule *schedule.Rule, spec schedule.Spec, now time.Time) time.Time {
	if spec.Form == schedule.FormEnumerated {
		if spec.Complete {
			return spec.Through.Add(time.Minute + time.Second)
		}
		times, _ := EnumeratedTimes(TemporalSpec(spec))
		if len(times) == 0 {
			return now
		}
		return times[min(len(times)-1, schedule.Enumerate/2)]
	}
	if !rule.Finite() {
		return time.Time{}
	}
	var last time.Time
	switch {
	case rule.Opt == nil:
		last = rule.Start
	case !rule.Opt.Until.IsZero():
		last = rule.Opt.Until
	default:
		next := rule.Next(now.Add(-time.Minute), rule.Opt.Count)
		if len(next) == 0 {
			return now
		}
		last = next[len(next)-1]
	}
	return last.Add(time.Minute + time.Second)
}

// EnsureKeyAttribute registers KeyAttribute in the namespace if it is not
// there yet. Registering needs Temporal admin rights; a server without them
// needs an operator to run
//
//	temporal operator search-attribute create --name ScantronScheduleKey --type Keyword
func EnsureKeyAttribute(ctx context.Context, c client.Client, namespace string) error {
	op := c.OperatorService()
	list, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err == nil {
		if t, ok := list.GetCustomAttributes()[KeyAttribute]; ok {
			if t != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
				return fmt.Errorf("search attribute %s is registered as %v, want Keyword", KeyAttribute, t)
			}
			return nil
		}
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        namespace,
		SearchAttributes: map[string]enumspb.IndexedValueType{KeyAttribute: enumspb.INDEXED_VALUE_TYPE_KEYWORD},
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register search attribute %s (Keyword): %w", KeyAttribute, err)
	}
	return nil
}
