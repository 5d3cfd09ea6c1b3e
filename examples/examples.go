// Package examples holds the example app definitions that `sextant up`
// starts on a fresh state directory (unless --no-examples): a static web
// server, a minitwit-like app with a VIP and Marathon-LB labels, a TCP
// echo service and an app whose health check always fails. Each needs only
// python3 on the machine.
//
// Imports: the standard library and third-party modules only, no package of Sextant's.
package examples

import "embed"

// Apps holds the example definitions (*.json). An embed.FS is read-only.
//
//go:embed *.json
var Apps embed.FS
