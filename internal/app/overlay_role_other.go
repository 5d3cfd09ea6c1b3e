//go:build !linux

package app

import "errors"

func (p *pipeline) overlayRole(c OverlayConfig, master bool, nodeIP string) error {
	if !c.Enable {
		return nil
	}
	return errors.New("--overlay needs Linux")
}
