package state

// ParseFast is the fast decoder alone, for the external tests.
var ParseFast = parseFast
