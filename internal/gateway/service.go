package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/model"
)

// Marathon labels the /service resolver reads (§1.3).
const (
	LabelServiceName      = "DCOS_SERVICE_NAME"
	LabelServicePortIndex = "DCOS_SERVICE_PORT_INDEX"
	LabelServiceScheme    = "DCOS_SERVICE_SCHEME"
	LabelRewriteURLs      = "DCOS_SERVICE_REWRITE_REQUEST_URLS"
	LabelRequestBuffering = "DCOS_SERVICE_REQUEST_BUFFERING"
)

// maxServiceSegments is how many leading segments may name a service.
const maxServiceSegments = 10

// singleSegment is a bare /service/<name> that gets a trailing slash.
var singleSegment = regexp.MustCompile(`^/service/[0-9a-zA-Z.-]+$`)

// Resolution is where /service/<name> leads and how.
type Resolution struct {
	// Name is the matched candidate id as requested (segments joined by
	// "/"); Segments how many path segments it took.
	Name     string
	Segments int
	URL      *url.URL
	// Rewrite strips /service/<name> from the path sent upstream;
	// Buffer reads the whole request body first.
	Rewrite, Buffer bool
	// Source says what resolved it: "marathon-app", "framework-id",
	// "framework-name", "mesos-dns".
	Source string
}

// resolveError is a resolver failure with Admin Router's body.
type resolveError struct {
	code int
	body string
}

func (e *resolveError) Error() string { return e.body }

// normalise turns a service id into Mesos-DNS' form: segments reversed
// and joined with dots (group1/group2/app → app.group2.group1); empty
// segments are ignored.
func normalise(id string) string {
	var segs []string
	for _, s := range strings.Split(id, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	slices.Reverse(segs)
	return strings.Join(segs, ".")
}

func labelFalse(v string, ok bool) bool {
	return ok && strings.EqualFold(strings.TrimSpace(v), "false")
}

// appUpstream is a Marathon app's upstream URL by its labels, or false when
// the app cannot be routed (missing or bad labels, no running task yet,
// index out of range): such an app is skipped.
func appUpstream(a *model.App) (*url.URL, bool) {
	scheme := a.Labels[LabelServiceScheme]
	if scheme != "http" && scheme != "https" {
		return nil, false
	}
	idx, err := strconv.Atoi(strings.TrimSpace(a.Labels[LabelServicePortIndex]))
	if err != nil || idx < 0 {
		return nil, false
	}
	for i := range a.Tasks {
		t := &a.Tasks[i]
		if t.State != model.TaskRunning {
			continue
		}
		// The first running task is used, as Admin Router does.
		for _, ep := range t.Endpoints {
			if ep.Index != idx || ep.Port == 0 {
				continue
			}
			host := ep.Host
			if ep.Addr.IsValid() {
				host = ep.Addr.String()
			}
			if host == "" {
				return nil, false
			}
			return &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(int(ep.Port)))}, true
		}
		return nil, false
	}
	return nil, false
}

// Resolve finds the upstream of /service/<segs...> in a snapshot, as
// §1.3 orders it. dnsLookup answers the Mesos-DNS SRV fallback.
func Resolve(ctx context.Context, s *model.Snapshot, segs []string, dnsLookup func(ctx context.Context, name string) (*url.URL, error)) (*Resolution, error) {
	if s == nil {
		return nil, &resolveError{http.StatusServiceUnavailable, errMesosCache}
	}
	_, haveMarathon := s.Source("marathon")
	mv, _ := s.Source("marathon")
	mesos, _ := s.Source("mesos")
	for i := 1; i <= len(segs) && i <= maxServiceSegments; i++ {
		name := strings.Join(segs[:i], "/")
		norm := normalise(name)
		res := &Resolution{Name: name, Segments: i, Rewrite: true, Buffer: true}
		if norm != "marathon" && norm != "metronome" {
			if haveMarathon && mv.Version == 0 {
				return nil, &resolveError{http.StatusServiceUnavailable, errMarathonCache}
			}
			for ai := range s.Apps {
				a := &s.Apps[ai]
				sn, ok := a.Labels[LabelServiceName]
				if !ok || normalise(sn) != norm {
					continue
				}
				u, ok := appUpstream(a)
				if !ok {
					continue
				}
				res.URL, res.Source = u, "marathon-app"
				rw, rwOK := a.Labels[LabelRewriteURLs]
				res.Rewrite = !labelFalse(rw, rwOK)
				bf, bfOK := a.Labels[LabelRequestBuffering]
				res.Buffer = !labelFalse(bf, bfOK)
				return res, nil
			}
		}
		if mesos.Version == 0 && len(s.Sources) > 0 {
			return nil, &resolveError{http.StatusServiceUnavailable, errMesosCache}
		}
		fw, how := frameworkFor(s, norm)
		if fw == nil {
			continue
		}
		if norm == "marathon" || norm == "metronome" {
			res.Rewrite = true
		}
		if fw.WebUIURL != "" {
			u, err := url.Parse(fw.WebUIURL)
			if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				continue // an unusable webui_url: not resolvable here
			}
			if u.Path == "/" {
				u.Path, u.RawPath = "", ""
			}
			res.URL, res.Source = u, how
			return res, nil
		}
		// An empty webui_url: ask Mesos-DNS for the framework's name.
		u, err := dnsLookup(ctx, normalise(fw.Name))
		if err != nil {
			return nil, &resolveError{http.StatusServiceUnavailable, errMesosDNS}
		}
		if u == nil {
			continue
		}
		res.URL, res.Source = u, "mesos-dns"
		return res, nil
	}
	return nil, &resolveError{http.StatusNotFound, errServiceNotFound}
}

// frameworkFor finds a framework by id, then by normalised name; active
// ones first, so a torn-down framework left in the state does not shadow
// its reinstalled successor.
func frameworkFor(s *model.Snapshot, norm string) (*model.Framework, string) {
	for i := range s.Frameworks {
		if s.Frameworks[i].ID == norm {
			return &s.Frameworks[i], "framework-id"
		}
	}
	var inactive *model.Framework
	for i := range s.Frameworks {
		f := &s.Frameworks[i]
		if normalise(f.Name) != norm {
			continue
		}
		if f.Active {
			return f, "framework-name"
		}
		if inactive == nil {
			inactive = f
		}
	}
	if inactive != nil {
		return inactive, "framework-name"
	}
	return nil, ""
}

// srvRecord is one element of Mesos-DNS' /v1/services answer.
type srvRecord struct {
	Service string `json:"service"`
	Host    string `json:"host"`
	IP      string `json:"ip"`
	Port    string `json:"port"`
}

// mesosDNSLookup asks Mesos-DNS for _<name>._tcp.marathon.mesos: nil, nil
// when it has no such record.
func (g *Gateway) mesosDNSLookup(ctx context.Context, name string) (*url.URL, error) {
	if g.o.MesosDNS == "" {
		return nil, fmt.Errorf("no Mesos-DNS configured")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimSuffix(g.o.MesosDNS, "/")+"/v1/services/_"+url.PathEscape(name)+"._tcp.marathon.mesos", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "Master Admin Router")
	resp, err := g.dns.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Mesos-DNS: %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return parseSRVAnswer(b)
}

// parseSRVAnswer reads Mesos-DNS' /v1/services answer: the first record
// wins, as in Admin Router; an empty ip means no such service (nil, nil).
func parseSRVAnswer(b []byte) (*url.URL, error) {
	var recs []srvRecord
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("Mesos-DNS answer: %w", err)
	}
	if len(recs) == 0 || recs[0].IP == "" {
		return nil, nil
	}
	ip, err := netip.ParseAddr(recs[0].IP)
	if err != nil {
		return nil, fmt.Errorf("Mesos-DNS answer: [0].ip: %q is not an IP address", recs[0].IP)
	}
	port, err := strconv.ParseUint(recs[0].Port, 10, 16)
	if err != nil || port == 0 {
		return nil, fmt.Errorf("Mesos-DNS answer: [0].port: %q is not a port", recs[0].Port)
	}
	return &url.URL{Scheme: "http", Host: netip.AddrPortFrom(ip, uint16(port)).String()}, nil
}

// splitService splits the escaped path after /service/ into its decoded
// non-empty segments and, for each, where the rest of the raw path starts
// after it.
func splitService(rest string) (segs []string, ends []int) {
	i := 0
	for i < len(rest) {
		if rest[i] == '/' {
			i++
			continue
		}
		j := strings.IndexByte(rest[i:], '/')
		if j < 0 {
			j = len(rest)
		} else {
			j += i
		}
		dec, err := url.PathUnescape(rest[i:j])
		if err != nil {
			dec = rest[i:j]
		}
		segs = append(segs, dec)
		ends = append(ends, j)
		i = j
	}
	return segs, ends
}

// service answers /service/<name>/...: the endpoints API from the model,
// or the resolved upstream. Resolution comes first, then the token check,
// then any resolver error: an anonymous caller sees 401 either way.
func (g *Gateway) service(w http.ResponseWriter, r *http.Request, raw, tok string) string {
	if singleSegment.MatchString(raw) {
		q := ""
		if r.URL.RawQuery != "" {
			q = "?" + r.URL.RawQuery
		}
		redirect(w, raw+"/"+q, http.StatusMovedPermanently)
		return "redirect"
	}
	rest := raw[len("/service/"):]
	segs, ends := splitService(rest)
	if g.o.Watch != nil && g.o.Watch.ServeServiceEndpoints(w, r, segs) {
		return "endpoints"
	}
	res, err := Resolve(r.Context(), g.o.Current(), segs, g.mesosDNSLookup)
	if err != nil {
		re, ok := err.(*resolveError)
		if !ok {
			re = &resolveError{http.StatusServiceUnavailable, "503 Service Unavailable: " + err.Error()}
		}
		plain(w, re.code, re.body)
		return "service-unresolved"
	}
	prefix := "/service/" + strings.Trim(rest[:ends[res.Segments-1]], "/")
	path := raw
	if res.Rewrite {
		path = rest[ends[res.Segments-1]:]
	}
	if path == "" {
		path = "/"
	}
	rt := &route{upstream: "service:" + res.Name, target: res.URL, path: path, token: tok, servicePrefix: prefix}
	if r.ContentLength != 0 && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, g.o.MaxServiceBody)
		if res.Buffer {
			body, err := spool(r.Body)
			if err != nil {
				var mbe *http.MaxBytesError
				if asMaxBytes(err, &mbe) {
					plain(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
				} else {
					plain(w, http.StatusBadRequest, "400 Bad Request: reading the body: "+err.Error())
				}
				return rt.upstream
			}
			defer body.Close()
			r.Body, r.ContentLength = body, body.size
			r.TransferEncoding = nil
		}
	}
	rt.reqHost = r.Host
	g.proxyRoute(w, r, rt)
	return rt.upstream
}

// spooled is a request body read whole before proxying (nginx' request
// buffering): small ones in memory, large ones in a temporary file.
type spooled struct {
	io.Reader
	f    *os.File
	size int64
}

func (s *spooled) Close() error {
	if s.f != nil {
		name := s.f.Name()
		s.f.Close()
		os.Remove(name)
		s.f = nil
	}
	return nil
}

const spoolInMemory = 1 << 20

func spool(body io.ReadCloser) (*spooled, error) {
	defer body.Close()
	head, err := io.ReadAll(io.LimitReader(body, spoolInMemory+1))
	if err != nil {
		return nil, err
	}
	if len(head) <= spoolInMemory {
		return &spooled{Reader: bytes.NewReader(head), size: int64(len(head))}, nil
	}
	f, err := os.CreateTemp("", "sextant-gateway-body-*")
	if err != nil {
		return nil, err
	}
	n1, err := f.Write(head)
	var n2 int64
	if err == nil {
		n2, err = io.Copy(f, body)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &spooled{Reader: f, f: f, size: int64(n1) + n2}, nil
}
