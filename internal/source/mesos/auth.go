package mesos

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// BasicAuth is the HTTP Basic credential sent with every request
// (mesosAuthentication "basic").
type BasicAuth struct {
	Principal string
	Secret    string
}

// IAMConfig is the DC/OS service-account file of mesosAuthentication
// "iam": `{"uid", "private_key", "login_endpoint"}`.
type IAMConfig struct {
	UID           string `json:"uid"`
	PrivateKey    string `json:"private_key"`
	LoginEndpoint string `json:"login_endpoint"`

	key *rsa.PrivateKey
}

// ParseIAMConfig decodes and checks an IAM config file: all three fields
// are required and the key must be an RSA private key in PEM (PKCS #1 or
// PKCS #8).
func ParseIAMConfig(b []byte) (*IAMConfig, error) {
	var c IAMConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch {
	case c.UID == "":
		return nil, errors.New("uid: missing")
	case c.PrivateKey == "":
		return nil, errors.New("private_key: missing")
	case c.LoginEndpoint == "":
		return nil, errors.New("login_endpoint: missing")
	}
	u, err := url.Parse(c.LoginEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("login_endpoint: %q is not an http(s) URL", c.LoginEndpoint)
	}
	k, err := parseRSAKey([]byte(c.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	c.key = k
	return &c, nil
}

func parseRSAKey(b []byte) (*rsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, errors.New("not an RSA private key (PKCS #1 or PKCS #8)")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want RSA", k)
	}
	return rk, nil
}

// LoginToken signs the login JWT: RS256 with claims uid and exp (now + 1h),
// as the DC/OS IAM service expects from a service account.
func (c *IAMConfig) LoginToken(now time.Time) (string, error) {
	if c.key == nil {
		k, err := parseRSAKey([]byte(c.PrivateKey))
		if err != nil {
			return "", err
		}
		c.key = k
	}
	enc := base64.RawURLEncoding
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT"})
	claims, _ := json.Marshal(struct {
		UID string `json:"uid"`
		Exp int64  `json:"exp"`
	}{c.UID, now.Add(time.Hour).Unix()})
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign login token: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// login trades the signed JWT for an authentication token at the login
// endpoint. The original logs in before every state request; so do we.
func (c *IAMConfig) login(ctx context.Context, hc *http.Client, now time.Time) (string, error) {
	jwt, err := c.LoginToken(now)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(map[string]string{"uid": c.UID, "token": jwt})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.LoginEndpoint, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("iam login: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("iam login: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("iam login: read reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("iam login at %s: status %s", c.LoginEndpoint, resp.Status)
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil {
		return "", fmt.Errorf("iam login: reply: %w", err)
	}
	if tok.Token == "" {
		return "", errors.New("iam login: reply has no token")
	}
	return tok.Token, nil
}

// authTransport adds the configured credential to every request, so the
// state fetch and the operator-API stream authenticate the same way.
type authTransport struct {
	base  http.RoundTripper
	basic *BasicAuth
	iam   *IAMConfig
	// login is the client used for IAM logins (no auth of its own).
	login *http.Client
	now   func() time.Time
}

func (t *authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case t.basic != nil:
		r = r.Clone(r.Context())
		r.SetBasicAuth(t.basic.Principal, t.basic.Secret)
	case t.iam != nil:
		tok, err := t.iam.login(r.Context(), t.login, t.now())
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, err
		}
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "token="+tok)
	}
	return t.base.RoundTrip(r)
}
