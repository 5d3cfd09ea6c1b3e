package haproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/sextantdc/sextant/internal/edge"
)

// Dialect is the HAProxy version the default templates are written for.
type Dialect uint8

const (
	// HAProxy20 is marathon-lb's own text, byte for byte (its image ships
	// HAProxy 2.0): reqirep, rspirep and rspadd included.
	HAProxy20 Dialect = iota
	// HAProxy22 replaces the three defaults that use directives HAProxy
	// 2.1 removed by http-request/http-response equivalents; everything
	// else stays marathon-lb's text.
	HAProxy22
)

// Templates are the global templates: marathon-lb's defaults, each
// possibly replaced by an environment variable or a file. A Templates is
// immutable once loaded.
type Templates struct {
	t map[edge.Template]string
}

// LoadOptions say where global templates come from.
type LoadOptions struct {
	// Dir is the templates directory, holding files named HAPROXY_<NAME>
	// (marathon-lb reads ./templates; its container copies
	// $MESOS_SANDBOX/templates there); "" reads none.
	Dir string
	// LookupEnv reads the environment (os.LookupEnv); nil reads none.
	// HAPROXY_<NAME> replaces a template ("\n" written as the two
	// characters \ and n), HAPROXY_GLOBAL_DEFAULT_OPTIONS the option list
	// of the default HEAD.
	LookupEnv func(string) (string, bool)
	// Dialect picks the defaults' HAProxy version.
	Dialect Dialect
}

// Default returns marathon-lb's built-in templates.
func Default() *Templates { return &Templates{t: defaults(DefaultGlobalOptions)} }

// Load builds the global templates as marathon-lb's ConfigTemplater
// does: for each template, a non-empty environment variable
// HAPROXY_<NAME>, else the file Dir/HAPROXY_<NAME> (read as Python reads
// text: "\r\n" and "\r" become "\n"), else the default. A template file
// that exists but cannot be read is an error (marathon-lb falls back to
// the default silently).
func Load(o LoadOptions) (*Templates, error) {
	env := o.LookupEnv
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	opts := DefaultGlobalOptions
	if v, ok := env("HAPROXY_GLOBAL_DEFAULT_OPTIONS"); ok {
		opts = v // set but empty is one empty option, as in marathon-lb
	}
	t := defaults(opts)
	if o.Dialect == HAProxy22 {
		maps.Copy(t, modern())
	}
	var errs []error
	for _, info := range edge.Templates() {
		name := "HAPROXY_" + string(info.Name)
		if v, ok := env(name); ok && v != "" {
			t[info.Name] = strings.ReplaceAll(v, `\n`, "\n")
			continue
		}
		if o.Dir == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(o.Dir, name))
		switch {
		case err == nil:
			t[info.Name] = strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\r", "\n")
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, fmt.Errorf("template %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Templates{t: t}, nil
}

// Text returns the global template called name.
func (t *Templates) Text(name edge.Template) string { return t.t[name] }

// With returns a copy of t with one template replaced.
func (t *Templates) With(name edge.Template, text string) *Templates {
	c := maps.Clone(t.t)
	c[name] = text
	return &Templates{t: c}
}
