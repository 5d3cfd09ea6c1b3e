package mesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sextantdc/sextant/internal/mesos/operator"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// OperatorStreamer follows the v1 operator API (`POST /api/v1`
// SUBSCRIBE) with the operator package. Credentials come from the HTTP
// client the source passes in, so opts.Authorization is normally nil.
func OperatorStreamer(opts operator.Options) Streamer {
	return StreamFunc(func(ctx context.Context, c *http.Client, baseURL string, onState func(*state.State)) error {
		err := operator.Stream(ctx, c, baseURL, opts, onState)
		if errors.Is(err, operator.ErrNotSupported) {
			return fmt.Errorf("%w: %w", ErrStreamUnsupported, err)
		}
		return err
	})
}

func defaultStreamer(log *slog.Logger) Streamer {
	return OperatorStreamer(operator.Options{Logger: log.With("component", "mesos-operator-stream")})
}
