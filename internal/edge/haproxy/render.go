package haproxy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/pystr"
)

// Output is one generation: haproxy.cfg and the bodies of the two map
// files (empty without --haproxy-map, as marathon-lb truncates them),
// which the 9090 endpoints /_haproxy_getvhostmap and /_haproxy_getappmap
// serve.
type Output struct {
	Config    string
	DomainMap string
	AppMap    string
}

// ErrHead is a HEAD template that cannot reload seamlessly: marathon-lb
// refuses one that contains the word daemon or lacks "expose-fd
// listeners" (the listening sockets are handed to the new worker through
// that admin socket).
var ErrHead = errors.New("HAPROXY_HEAD must not contain \"daemon\" and must contain \"expose-fd listeners\" " +
	"(marathon-lb 1.12 changed the default head)")

// Render writes the configuration as marathon-lb's config() does: HEAD,
// the userlists, marathon_http_in, marathon_http_appid_in,
// marathon_https_in (and the grouped vhost frontends), then every
// service's frontend, then every backend. It fails when a global
// template does not format (a service's own template labels were checked
// when the configuration was built).
func Render(c *edge.Config, t *Templates) (Output, error) {
	r := renderer{t: t, info: map[edge.Template]edge.TemplateInfo{}}
	for _, i := range edge.Templates() {
		r.info[i.Name] = i
	}
	head := t.Text(edge.Head)
	if slices.Contains(pystr.Fields(head), "daemon") || !strings.Contains(head, "expose-fd listeners") {
		return Output{}, ErrHead
	}
	r.b.WriteString(head)
	r.blocks("userlists", c.Userlists)
	if c.HTTP != nil {
		r.frontend(c.HTTP)
	}
	r.frontend(&c.AppID)
	if c.HTTPS != nil {
		r.frontend(c.HTTPS)
	}
	for i := range c.Vhosts {
		v := &c.Vhosts[i]
		r.rule(v.Name, &v.Backend)
		r.rule(v.Name, &v.Head)
		r.blocks(v.Name, v.Blocks)
	}
	for i := range c.Services {
		r.rules(c.Services[i].Name, c.Services[i].Frontend)
	}
	for i := range c.Services {
		r.rules(c.Services[i].Name, c.Services[i].Backend)
	}
	if err := errors.Join(r.errs...); err != nil {
		return Output{}, err
	}
	return Output{Config: r.b.String(), DomainMap: mapBody(c.DomainMap), AppMap: mapBody(c.AppMap)}, nil
}

// mapBody is a map file: "key backend\n" per entry.
func mapBody(es []edge.MapEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Key + " " + e.Backend + "\n")
	}
	return b.String()
}

type renderer struct {
	t    *Templates
	info map[edge.Template]edge.TemplateInfo
	b    strings.Builder
	errs []error
}

func (r *renderer) frontend(f *edge.Frontend) {
	r.rule(f.Name, &f.Head)
	r.blocks(f.Name, f.Blocks)
}

func (r *renderer) blocks(section string, bs []edge.Block) {
	for i := range bs {
		r.rules(section, bs[i].Rules)
	}
}

func (r *renderer) rules(section string, rs []edge.Rule) {
	for i := range rs {
		r.rule(section, &rs[i])
	}
}

func (r *renderer) rule(section string, x *edge.Rule) {
	s, err := r.text(x)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: template %s: %w", section, x.Template, err))
		return
	}
	r.b.WriteString(s)
}

// text renders one rule: the service's template or the global one,
// verbatim for literal templates, trimmed and space-prefixed for the
// per-server health-check options, else through str.format.
func (r *renderer) text(x *edge.Rule) (string, error) {
	info := r.info[x.Template]
	tmpl := r.t.Text(x.Template)
	if x.HasOverride {
		tmpl = x.Override
	}
	if info.Literal {
		return tmpl, nil
	}
	if info.Trim {
		if tmpl = pystr.Strip(tmpl); tmpl != "" {
			tmpl = " " + tmpl
		}
	}
	if tmpl == "" {
		return "", nil
	}
	args := x.Args
	if x.Nested != nil {
		nested, err := r.text(x.Nested)
		if err != nil {
			return "", err
		}
		args = slices.Clone(args)
		for i := range args {
			if args[i].Name == x.NestedArg {
				args[i].Value = pystr.Str(nested)
			}
		}
	}
	return pystr.Format(tmpl, args)
}
