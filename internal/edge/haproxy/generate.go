package haproxy

import (
	"slices"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/model"
)

// Generate builds and renders one generation for an engine. Its Without
// regenerates it without some apps, for the HAProxy engine to leave out
// the apps HAProxy rejects.
func Generate(apps []model.App, o edge.Options, tm *Templates) (*edge.Generation, error) {
	cfg, err := edge.Build(apps, o)
	if err != nil {
		return nil, err
	}
	out, err := Render(cfg, tm)
	if err != nil {
		return nil, err
	}
	g := &edge.Generation{Config: cfg, HAProxyCfg: out.Config, DomainMap: out.DomainMap, AppMap: out.AppMap}
	g.Without = func(ids []string) (*edge.Generation, error) {
		kept := slices.DeleteFunc(slices.Clone(apps), func(a model.App) bool {
			return slices.Contains(ids, a.ID) || slices.Contains(ids, a.Labels["HAPROXY_APP_ID"])
		})
		return Generate(kept, o, tm)
	}
	return g, nil
}
