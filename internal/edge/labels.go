package edge

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/edge/pystr"
)

// labelSpec is one per-service label, HAPROXY_{n}_<name>.
type labelSpec struct {
	name string
	// set applies the label's value; an error disables the service.
	set func(s *service, v string) error
}

// serviceLabels are the per-service labels marathon-lb reads, sorted by
// name because marathon-lb applies them in that order: BACKEND_WEIGHT is
// read before PATH, and PATH raises a weight of 0 to 1 (spec §5.1).
// Template labels (template.go's catalogue) are stored for the rules.
func serviceLabels() []labelSpec {
	specs := []labelSpec{
		{"AUTH", setAuth},
		{"BACKEND_HEALTHCHECK_PORT_INDEX", func(s *service, v string) error {
			n, err := parseInt(v)
			s.hcPortIndex, s.hasHCPortIndex = n, err == nil
			return err
		}},
		{"BACKEND_NETWORK_ALLOWED_ACL", func(s *service, v string) error {
			s.networkAllowed = v
			return nil
		}},
		{"BACKEND_WEIGHT", func(s *service, v string) error {
			n, err := parseInt(v)
			if err == nil {
				s.weight = n
			}
			return err
		}},
		{"BALANCE", func(s *service, v string) error { s.balance = v; return nil }},
		{"BIND_ADDR", func(s *service, v string) error { s.bindAddr = v; return nil }},
		{"BIND_OPTIONS", func(s *service, v string) error {
			s.bindOptions, s.hasBindOptions = v, true
			return nil
		}},
		{"ENABLED", func(s *service, v string) error { s.enabled = truthy(v); return nil }},
		{"GROUP", func(s *service, v string) error {
			s.groups, s.hasGroups = strings.Split(v, ","), true
			return nil
		}},
		{"HTTP_BACKEND_PROXYPASS_PATH", func(s *service, v string) error { s.proxyPass = v; return nil }},
		{"HTTP_BACKEND_REDIR", func(s *service, v string) error { s.redirect = v; return nil }},
		{"HTTP_BACKEND_REVPROXY_PATH", func(s *service, v string) error { s.revProxy = v; return nil }},
		{"MODE", func(s *service, v string) error {
			s.mode, s.hasMode = strings.ToLower(v), true
			return nil
		}},
		{"PATH", func(s *service, v string) error {
			s.path = v
			if s.weight == 0 {
				s.weight = 1
			}
			return nil
		}},
		{"PORT", func(s *service, v string) error {
			n, err := parseInt(v)
			if err != nil {
				return err
			}
			// marathon-lb binds whatever int() gives and leaves it to
			// haproxy -c to fail the whole file; a port is checked here so
			// that only this service is lost.
			if n < 1 || n > 65535 {
				return errors.New(strconv.FormatInt(n, 10) + " is not a port (1-65535)")
			}
			s.port = n
			return nil
		}},
		{"REDIRECT_TO_HTTPS", func(s *service, v string) error { s.redirectToHTTPS = truthy(v); return nil }},
		{"SSL_CERT", func(s *service, v string) error {
			s.sslCert, s.hasSSLCert = v, true
			return nil
		}},
		{"STICKY", func(s *service, v string) error { s.sticky = truthy(v); return nil }},
		{"USE_HSTS", func(s *service, v string) error { s.useHSTS = truthy(v); return nil }},
		{"VHOST", func(s *service, v string) error {
			s.hostname, s.hasHostname = strings.ToLower(v), true
			return nil
		}},
	}
	for _, t := range Templates() {
		if t.Label != "" && t.Label == string(t.Name) && !t.Unused {
			name := t.Label
			specs = append(specs, labelSpec{name, func(s *service, v string) error {
				// Label templates have their line endings normalised
				// (marathon-lb PR #430); file and environment templates do
				// not.
				s.templates[name] = strings.ReplaceAll(v, "\r\n", "\n")
				return nil
			}})
		}
	}
	sortSpecs(specs)
	return specs
}

func sortSpecs(specs []labelSpec) {
	for i := 1; i < len(specs); i++ {
		for j := i; j > 0 && specs[j].name < specs[j-1].name; j-- {
			specs[j], specs[j-1] = specs[j-1], specs[j]
		}
	}
}

// truthy is marathon-lb's string_to_bool.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "t", "yes", "y":
		return true
	}
	return false
}

func parseInt(v string) (int64, error) {
	n, err := pystr.ParseInt(v)
	if err != nil {
		return 0, errors.New(strconv.Quote(v) + " is not an integer")
	}
	return n, nil
}

func setAuth(s *service, v string) error {
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return errors.New("want realm:user:encrypted-password (exactly two ':'), got " + strconv.Itoa(len(parts)-1))
	}
	s.auth = &Auth{Realm: parts[0], User: parts[1], Password: parts[2]}
	return nil
}

// labelKey is the label HAPROXY_{n}_<name> for service index n.
func labelKey(n int, name string) string { return "HAPROXY_" + strconv.Itoa(n) + "_" + name }

// applyLabels reads the service labels of index s.index from the app's
// labels into s. Every label is tried, so one pass reports every bad one.
func applyLabels(specs []labelSpec, labels map[string]string, s *service) []labelError {
	var errs []labelError
	for _, sp := range specs {
		key := labelKey(s.index, sp.name)
		v, ok := labels[key]
		if !ok {
			continue
		}
		if err := sp.set(s, v); err != nil {
			errs = append(errs, labelError{key, err.Error()})
		}
	}
	return errs
}

type labelError struct{ label, reason string }
