package masscan

import (
	"fmt"
	"strings"

	"github.com/scantron/scantron/scan"
)

// SpecArgs returns the masscan arguments that run spec, writing XML to
// xmlPath, with extra options of the agent's (WithRate, WithWait, ...), in
// the order Args gives. It validates spec again (the error then wraps
// scan.ErrInvalidSpec) and refuses host names among the targets and
// exclusions, which masscan cannot resolve. xmlPath must not be empty and
// must not start with "-".
func SpecArgs(spec scan.Spec, xmlPath string, extra ...Option) ([]string, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.Scanner != scan.Masscan {
		return nil, fmt.Errorf("%w: scanner is %q, not masscan", scan.ErrInvalidSpec, spec.Scanner)
	}
	set, err := scan.ParseOptionArgs(scan.Masscan, spec.Options)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
	}
	if xmlPath == "" || strings.HasPrefix(xmlPath, "-") {
		return nil, fmt.Errorf("masscan: XML output path %q is empty or looks like an option", xmlPath)
	}
	targets, err := addressTargets(spec.Targets)
	if err != nil {
		return nil, err
	}
	excludes, err := addressTargets(spec.Excludes)
	if err != nil {
		return nil, err
	}
	opts := append([]Option{
		WithXMLOutput(xmlPath),
		WithExcludes(excludes),
		WithTargets(targets),
		WithProfile(set),
	}, extra...)
	return Args(opts...), nil
}

// addressTargets renders targets for masscan, refusing host names.
func addressTargets(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for _, s := range list {
		t, err := scan.ParseTarget(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", scan.ErrInvalidSpec, err)
		}
		if t.Kind == scan.KindHost {
			return nil, fmt.Errorf("%w: masscan cannot scan or exclude host name %q; give addresses", scan.ErrInvalidSpec, t.Host)
		}
		out = append(out, t.String())
	}
	return out, nil
}
