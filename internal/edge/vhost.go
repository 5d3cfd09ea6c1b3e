package edge

import "strings"

// vhost adds a service's rules to the :80 and :443 frontends (and, for
// --group-https-by-vhost, to its vhosts' TLS frontends): marathon-lb's
// generateHttpVhostAcl, the decision table of spec §6.4, call for call
// and argument for argument, because a template label sees exactly the
// arguments its call site passes.
//
// Several vhosts (a comma in HAPROXY_{n}_VHOST) share the ACL name of the
// first one, and HAProxy ORs same-named ACL lines. With --haproxy-map the
// first service to take the map catch-all gets weight -1 so that it sorts
// after the explicit rules; later map services only add map entries.
func (e *emitter) vhost(c *contrib, s *service) {
	c.vhost = true
	backend := str("backend", c.name)
	path, realm := s.path, s.realm()
	mapMode := e.o.HAProxyMap
	dir := str("haproxy_dir", e.cfg.HAProxyDir)
	appID := str("appId", s.appID)
	realmArg := str("realm", realm)
	bindAddr := str("bindAddr", s.bindAddr)
	idPart := strings.ReplaceAll(tail(s.appID), "/", "_")

	if strings.Contains(s.hostname, ",") {
		vhosts := strings.Split(s.hostname, ",")
		acl := str("cleanedUpHostname", clean(vhosts[0])+"_"+idPart)
		if path != "" {
			pathArg := str("path", path)
			if realm != "" {
				first := str("hostname", vhosts[0])
				c.http = append(c.http, e.rule(s, HTTPFrontendACLOnlyWithPathAndAuth, pathArg, acl, first, realmArg, backend))
				c.https = append(c.https, e.rule(s, HTTPSFrontendACLOnlyWithPath, pathArg, acl, first, realmArg, backend))
			} else {
				c.http = append(c.http, e.rule(s, HTTPFrontendACLOnlyWithPath, pathArg, backend))
				c.https = append(c.https, e.rule(s, HTTPSFrontendACLOnlyWithPath, pathArg, backend))
			}
		}
		head := c.https // the path ACL, repeated in every vhost's TLS frontend
		for _, vh := range vhosts {
			g := c.group(vh)
			g.add(c.weight, head...)
			if s.hasSSLCert {
				g.certs[s.sslCert] = true
			}
			if s.hasBindOptions {
				g.bindOpts[s.bindOptions] = true
			}
			host := str("hostname", vh)
			if mapMode && path == "" && realm == "" && !s.redirectToHTTPS {
				if !c.mapHTTP {
					c.weight = -1
					c.http = append(c.http, e.rule(s, MapHTTPFrontendACLOnly, dir))
					c.mapHTTP = true
				}
				c.domain = addMap(c.domain, e.cfg.DomainMap, MapEntry{vh, c.name})
			} else {
				c.http = append(c.http, e.rule(s, HTTPFrontendACLOnly, acl, host))
			}
			var r Rule
			switch {
			case path != "" && realm != "":
				r = e.rule(s, HTTPSFrontendACLWithAuthAndPath, acl, host, appID, realmArg, backend)
			case path != "":
				r = e.rule(s, HTTPSFrontendACLWithPath, acl, host, appID, backend)
			case realm != "":
				r = e.rule(s, HTTPSFrontendACLWithAuth, acl, host, appID, realmArg, backend)
			case mapMode:
				if !c.mapHTTPS {
					c.weight = -1
					r = e.rule(s, MapHTTPSFrontendACL, host, dir)
					c.https = append(c.https, r)
					g.add(c.weight, r)
					c.mapHTTPS = true
				}
				c.domain = addMap(c.domain, e.cfg.DomainMap, MapEntry{vh, c.name})
				continue
			default:
				r = e.rule(s, HTTPSFrontendACL, acl, host, appID, backend)
			}
			c.https = append(c.https, r)
			g.add(c.weight, r)
		}
		// One routing line for all the vhosts; with a redirect there is
		// none at all (quirk 7: a single vhost keeps its use_backend).
		switch {
		case s.redirectToHTTPS && path != "":
			c.http = append(c.http, e.rule(s, BackendRedirectHTTPToHTTPSWithPath, bindAddr, acl, backend))
		case s.redirectToHTTPS:
			c.http = append(c.http, e.rule(s, BackendRedirectHTTPToHTTPS, bindAddr, acl))
		case path != "" && realm != "":
			c.http = append(c.http, e.rule(s, HTTPFrontendRoutingOnlyWithPathAndAuth, acl, realmArg, backend))
		case path != "":
			c.http = append(c.http, e.rule(s, HTTPFrontendRoutingOnlyWithPath, acl, backend))
		case realm != "":
			c.http = append(c.http, e.rule(s, HTTPFrontendRoutingOnlyWithAuth, acl, realmArg, backend))
		case !mapMode:
			c.http = append(c.http, e.rule(s, HTTPFrontendRoutingOnly, acl, backend))
		}
		return
	}

	vh := s.hostname
	host := str("hostname", vh)
	acl := str("cleanedUpHostname", clean(vh)+"_"+idPart)
	if s.hasSSLCert {
		c.group(vh).certs[s.sslCert] = true
	}
	if s.hasBindOptions {
		c.group(vh).bindOpts[s.bindOptions] = true
	}
	tls := func(r Rule) {
		c.https = append(c.https, r)
		c.group(vh).add(c.weight, r)
	}
	if path != "" {
		pathArg := str("path", path)
		switch {
		case s.redirectToHTTPS:
			// AUTH is ignored on :80 here: the redirect wins.
			c.http = append(c.http, e.rule(s, HTTPFrontendACLOnly, acl, host),
				e.rule(s, HTTPFrontendACLOnlyWithPath, acl, host, pathArg, backend),
				e.rule(s, BackendRedirectHTTPToHTTPSWithPath, bindAddr, acl, backend))
		case realm != "":
			c.http = append(c.http, e.rule(s, HTTPFrontendACLWithAuthAndPath, acl, host, pathArg, appID, realmArg, backend))
		default:
			c.http = append(c.http, e.rule(s, HTTPFrontendACLWithPath, acl, host, pathArg, appID, backend))
		}
		tls(e.rule(s, HTTPSFrontendACLOnlyWithPath, pathArg, backend))
		if realm != "" {
			tls(e.rule(s, HTTPSFrontendACLWithAuthAndPath, acl, host, pathArg, appID, realmArg, backend))
		} else {
			tls(e.rule(s, HTTPSFrontendACLWithPath, acl, host, appID, backend))
		}
		return
	}
	switch {
	case s.redirectToHTTPS:
		c.http = append(c.http, e.rule(s, HTTPFrontendACL, acl, host, backend),
			e.rule(s, BackendRedirectHTTPToHTTPS, bindAddr, acl))
	case realm != "":
		c.http = append(c.http, e.rule(s, HTTPFrontendACLWithAuth, acl, host, appID, realmArg, backend))
	case mapMode:
		if !c.mapHTTP {
			c.weight = -1
			c.http = append(c.http, e.rule(s, MapHTTPFrontendACL, dir))
			c.mapHTTP = true
		}
		c.domain = addMap(c.domain, e.cfg.DomainMap, MapEntry{vh, c.name})
	default:
		c.http = append(c.http, e.rule(s, HTTPFrontendACL, acl, host, appID, backend))
	}
	switch {
	case realm != "":
		tls(e.rule(s, HTTPSFrontendACLWithAuth, acl, host, appID, realmArg, backend))
	case mapMode:
		// Quirk: a later map service's vhost gets no TLS frontend of its
		// own in grouped mode (marathon-lb never touches its entry).
		if !c.mapHTTPS {
			c.weight = -1
			tls(e.rule(s, MapHTTPSFrontendACL, host, dir))
			c.mapHTTPS = true
		}
		c.domain = addMap(c.domain, e.cfg.DomainMap, MapEntry{vh, c.name})
	default:
		tls(e.rule(s, HTTPSFrontendACL, acl, host, appID, backend))
	}
}
