package main

import (
	"errors"
)

// These commands are wired in by the files that implement them; until then
// they say so plainly.
var errNotBuilt = errors.New("this command is not built yet")
