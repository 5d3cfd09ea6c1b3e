package testutil

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"time"
)

// Dig runs the dig binary at digPath against server ("host:port") with
// args (names, types, +options) and returns its combined output. The run
// is bounded by 30 s whatever +time and +tries say.
func Dig(digPath, server string, args ...string) (string, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	all := append([]string{"@" + host, "-p", port}, args...)
	out, err := exec.CommandContext(ctx, digPath, all...).CombinedOutput()
	return string(out), err
}

// DigSection returns the records of one section of dig's full output
// ("ANSWER", "AUTHORITY", "ADDITIONAL"), each with its whitespace
// collapsed to single spaces, or nil when the section is absent.
func DigSection(out, name string) []string {
	i := strings.Index(out, ";; "+name+" SECTION:\n")
	if i < 0 {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(out[i:], "\n")[1:] {
		if l == "" {
			break
		}
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

// DigShort splits dig +short output into its lines, without empty ones.
func DigShort(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
