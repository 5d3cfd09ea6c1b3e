// Package auth is the gateway's authentication: DC/OS authentication
// tokens (JWTs) taken from a request, verified and issued, and the
// accounts behind the login API of open DC/OS' IAM
// (../shared/spec/adminrouter-and-ui.md §2).
//
// One job: say who a request is. A token comes from the Authorization
// header (`token=<jwt>`, or `Bearer <jwt>`), or, only when the request has
// no Authorization header at all, from the dcos-acs-auth-cookie. RS256
// tokens are verified with the gateway's signing key (and any extra
// public keys configured), HS256 ones with a shared secret when one is
// configured (the pre-1.13 dcos-oauth tokens); `uid` is required and `exp`
// is enforced when present.
//
// The login API (/acs/api/v1/auth/login, logout, jwks) issues 5-day RS256
// tokens for local users (uid and password) and service accounts (uid and
// a login token the service signs with its own private key), and
// /acs/api/v1/users manages those accounts. Accounts and the signing key
// live in a directory of their own, written atomically, so they survive a
// restart.
//
// Imports: the standard library and github.com/golang-jwt/jwt/v5; nothing
// from the project.
package auth
