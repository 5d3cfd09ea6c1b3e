// Package link changes the network links and addresses of a host: create
// a dummy link, set a link up, delete a link, add and remove an address.
// That is its one job; it knows nothing of DNS, DC/OS or why an address
// is wanted.
//
// Inputs are link names and netip.Prefix addresses; outputs are errors,
// with the sentinels ErrNoDummy and ErrExists for the cases callers
// branch on. Consumers take the Links interface. Netlink (from Open) is
// the Linux implementation, speaking rtnetlink on golang.org/x/sys/unix;
// on other systems Open fails with errors.ErrUnsupported. Fake keeps
// links and addresses in memory, for tests that cannot or should not
// need CAP_NET_ADMIN.
//
// Netlink acts in the network namespace its socket was opened in, which
// is that of the calling thread at Open: every request, including the
// name-to-index look-ups, goes through that one socket, so a Netlink used
// later from another thread still cannot reach another namespace.
//
// # Imports
//
// Only the standard library and golang.org/x/sys (imports_test.go checks
// this): the package sits under everything that touches the kernel and
// must stay cheap to import and easy to audit.
package link
