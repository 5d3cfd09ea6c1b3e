package dcosdns

import (
	"strings"

	"github.com/miekg/dns"
)

// ednsSize is the UDP payload size we advertise in replies to EDNS0
// queries (the DNS flag day 2020 value, which avoids IP fragmentation).
const ednsSize = 1232

// fitReply applies the transport's size limit to a reply (spec §A.3):
// over UDP the client's EDNS0 payload size when it sent an OPT record,
// else 512 bytes; over TCP 65535. An oversize reply is truncated with TC
// set so the client retries over TCP. Replies to EDNS0 queries carry an
// OPT record (erldns answered EDNS0 with EDNS0).
func fitReply(req, m *dns.Msg, network string) {
	limit := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		if opt.UDPSize() > dns.MinMsgSize {
			limit = int(opt.UDPSize())
		}
		if m.IsEdns0() == nil {
			m.SetEdns0(ednsSize, opt.Do())
		}
	}
	if strings.HasPrefix(network, "tcp") {
		limit = dns.MaxMsgSize
	}
	m.Truncate(limit)
}
