package app

import (
	"context"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/zdd"
)

// DeployOptions configure `sextant edge deploy`.
type DeployOptions = zdd.Options

// DefaultEdgeConfigFile is marathon-lb's --haproxy-config default.
const DefaultEdgeConfigFile = edge.DefaultConfigFile

// EdgeDeploy runs one blue/green deployment of the app definition def
// (marathon-lb's zdd).
func EdgeDeploy(ctx context.Context, def []byte, o DeployOptions) error {
	return zdd.Deploy(ctx, def, o)
}
