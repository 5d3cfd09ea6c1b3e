// Package httpfast is a lean HTTP/1.1 server loop for proxies: one
// goroutine per connection reads each request into one *http.Request
// reused for the connection's life, runs the handler on it and writes
// the response through the connection's bufio.Writer, flushed once.
// net/http's server allocates a request, a context, a response and
// header maps per request and watches every connection with a
// background read; on a loaded machine those reads and the thread
// hand-offs around them cost more than the proxying itself.
//
// What it gives up against net/http: no HTTP/2, no per-request context
// cancelled when the client leaves (a handler sees the Server's
// BaseContext and learns of a departed client from a failed write), no
// trailers. A Server may divert requests it should not serve (by their
// request line) to a fallback, such as a net/http server, which then
// owns the connection with its buffered bytes.
//
// # Imports
//
// Nothing from the project.
package httpfast
