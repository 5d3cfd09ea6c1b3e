//go:build !linux

package dnsserver

import (
	"context"
	"net"
)

func (s *Server) serveUDP(ctx context.Context, c *net.UDPConn) error { return s.serveUDPSimple(ctx, c) }
