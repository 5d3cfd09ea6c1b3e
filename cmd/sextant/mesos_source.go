package main

import (
	"context"

	"github.com/sextantdc/sextant/internal/model"
	mesossrc "github.com/sextantdc/sextant/internal/source/mesos"
)

// runWithMesos runs a Mesos source built from so beside role, which reads
// the source's snapshots. The latest snapshot wins: the source never
// blocks on a slow zone builder, which only needs the newest state. A
// source that fails (ZooKeeper never names a leader) stops the role; the
// role's own error wins over the source's.
func runWithMesos(ctx context.Context, so mesossrc.Options, role func(ctx context.Context, snaps <-chan *model.Snapshot) error) error {
	snaps := make(chan *model.Snapshot, 1)
	src, err := mesossrc.New(so, func(s *model.Snapshot) {
		for {
			select {
			case snaps <- s:
				return
			default:
			}
			select {
			case <-snaps:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srcErr := make(chan error, 1)
	go func() {
		err := src.Run(ctx)
		if err != nil {
			cancel()
		}
		srcErr <- err
	}()
	err = role(ctx, snaps)
	cancel()
	if serr := <-srcErr; serr != nil && err == nil {
		err = serr
	}
	return err
}
