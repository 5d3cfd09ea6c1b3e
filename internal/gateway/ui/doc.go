// Package ui is the gateway's dashboard: plain HTML, CSS and JavaScript
// embedded in the binary (no build step), served by the gateway at / and
// /assets/. The pages read only the gateway's public APIs (/net/,
// /mesos/, /discovery/v1/, /edge/) and follow the watch API's event
// streams to update live.
//
// Imports: the standard library only.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed files
var files embed.FS

// Files returns the dashboard's files, index.html at the root.
func Files() fs.FS {
	sub, err := fs.Sub(files, "files")
	if err != nil {
		panic(err) // the embedded tree always has the directory
	}
	return sub
}
