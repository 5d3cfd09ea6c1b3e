package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sextantdc/sextant/internal/gateway/auth"
)

// TestAuthMatrix: every route that needs a token answers 401 with
// WWW-Authenticate: oauthjwt to every bad credential — before any 404 or
// 503 it would otherwise give — and lets a valid token through by header
// or cookie; the open paths need none.
func TestAuthMatrix(t *testing.T) {
	f := newFixture(t)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged, _ := auth.Sign(otherKey, "", "admin", time.Now(), time.Hour)
	expired, _ := f.auth.Issue("admin", -time.Minute)
	noUID, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString(f.storeKey(t))
	hsToken, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"uid": "admin"}).SignedString([]byte("guess"))
	noneToken, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"uid": "admin"}).SignedString(jwt.UnsafeAllowNoneSignatureType)

	protected := []string{
		"/mesos/master/state", "/mesos_dns/v1/version", "/net/v1/vips", "/overlay-master/state", "/agent/S1/state",
		"/agent/unknown-agent/state",                                                            // would be 404
		"/slave/S1/state", "/marathon/v2/apps", "/service/group/app/x", "/service/nothing/here", // would be 404
		"/service/kafka/v1/endpoints", "/acs/api/v1/users", "/metadata", "/discovery/v1/vips",
	}
	bad := map[string]map[string]string{
		"no token":               {},
		"bad signature":          {"Authorization": "token=" + forged},
		"expired":                {"Authorization": "token=" + expired},
		"no uid":                 {"Authorization": "token=" + noUID},
		"HS256 unknown":          {"Authorization": "token=" + hsToken},
		"alg none":               {"Authorization": "token=" + noneToken},
		"garbage":                {"Authorization": "token=abc.def.ghi"},
		"basic scheme":           {"Authorization": "Basic YWRtaW46YWRtaW4="},
		"bad cookie":             {"Cookie": auth.AuthCookie + "=" + forged},
		"header beats ok cookie": {"Authorization": "token=" + forged, "Cookie": auth.AuthCookie + "=" + f.token},
	}
	good := map[string]map[string]string{
		"token= header": {"Authorization": "token=" + f.token},
		"Bearer header": {"Authorization": "Bearer " + f.token},
		"cookie":        {"Cookie": auth.AuthCookie + "=" + f.token},
	}
	for _, p := range protected {
		for name, hdr := range bad {
			req, _ := http.NewRequest("GET", f.srv.URL+p, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != "oauthjwt" ||
				resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" {
				t.Errorf("%s with %s: %d %q %q, want 401 oauthjwt", p, name, resp.StatusCode,
					resp.Header.Get("WWW-Authenticate"), resp.Header.Get("Content-Type"))
			}
		}
		for name, hdr := range good {
			req, _ := http.NewRequest("GET", f.srv.URL+p, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == 401 {
				t.Errorf("%s with %s: 401", p, name)
			}
		}
	}
	open := []string{"/", "/login", "/acs/api/v1/auth/jwks", "/dcos-metadata/dcos-version.json", "/dcos-metadata/ui-config.json",
		"/nginx/metrics", "/metrics", "/health", "/cache/master/state-summary"}
	for _, p := range open {
		req, _ := http.NewRequest("GET", f.srv.URL+p, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 || resp.StatusCode >= 500 {
			t.Errorf("open %s: %d", p, resp.StatusCode)
		}
	}
}

func (f *fixture) storeKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	return f.authKey
}

// TestServiceLogin: a service account signs its own login token with its
// private key and exchanges it for a gateway token that opens the routes.
func TestServiceLogin(t *testing.T) {
	f := newFixture(t)
	svcKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&svcKey.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body, _ := json.Marshal(map[string]string{"public_key": pubPEM, "description": "ci"})
	resp, b := f.do("PUT", "/acs/api/v1/users/ci-robot", nil, bytes.NewReader(body))
	if resp.StatusCode != 201 {
		t.Fatalf("create service account: %d %s", resp.StatusCode, b)
	}
	resp, b = f.do("GET", "/acs/api/v1/users?type=service", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"uid":"ci-robot"`) {
		t.Fatalf("list: %d %s", resp.StatusCode, b)
	}
	login := func(tok string) (int, string, []*http.Cookie) {
		lb, _ := json.Marshal(map[string]string{"uid": "ci-robot", "token": tok})
		resp, err := http.Post(f.srv.URL+"/acs/api/v1/auth/login", "application/json", bytes.NewReader(lb))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Token string }
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out.Token, resp.Cookies()
	}
	own, _ := auth.Sign(svcKey, "", "ci-robot", time.Now(), 2*time.Minute)
	code, tok, cookies := login(own)
	if code != 200 || tok == "" {
		t.Fatalf("service login: %d", code)
	}
	var names []string
	for _, c := range cookies {
		names = append(names, c.Name)
		if c.Name == auth.AuthCookie && !c.HttpOnly {
			t.Error("auth cookie is not HttpOnly")
		}
	}
	if strings.Join(names, ",") != auth.AuthCookie+","+auth.InfoCookie {
		t.Errorf("cookies %v", names)
	}
	if c, err := f.auth.Verify(tok); err != nil || c.UID != "ci-robot" || c.ExpiresAt == nil ||
		c.ExpiresAt.Sub(time.Now()) < 4*24*time.Hour {
		t.Errorf("issued token: %+v %v", c, err)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/service/group/app/x", nil)
	req.Header.Set("Authorization", "token="+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("route with the service's token: %v %v", resp, err)
	}
	// A login token signed by another key, or for another uid, or without
	// exp, is refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged, _ := auth.Sign(other, "", "ci-robot", time.Now(), time.Minute)
	wrongUID, _ := auth.Sign(svcKey, "", "admin", time.Now(), time.Minute)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"uid": "ci-robot"}).SignedString(svcKey)
	for name, bad := range map[string]string{"forged": forged, "other uid": wrongUID, "no exp": noExp} {
		if code, _, _ := login(bad); code != 401 {
			t.Errorf("%s login token: %d, want 401", name, code)
		}
	}
}
