package discovery

import (
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Answer sizes. Over UDP without EDNS0 an answer fits in 512 bytes; with
// EDNS0 the client's buffer size is honoured up to maxUDPSize, the size the
// DNS community settled on to avoid IP fragmentation (DNS Flag Day 2020).
// Larger answers are truncated with the TC bit, and the client retries over
// TCP.
const (
	maxUDPSize = 1232
	// srvPriority and srvWeight are the same for every SRV record: every
	// healthy instance is as good as another.
	srvPriority = 1
	srvWeight   = 1
	// SOA timers. Nobody transfers the zone; they only need to be sane.
	soaRefresh = 3600
	soaRetry   = 600
	soaExpire  = 86400
)

// responder answers DNS queries for one zone from a Registry. It is the
// transport-free core of Server.
type responder struct {
	reg        *Registry
	zone       string // lower-cased, fully qualified: "local."
	zoneLabels int
	ttl        uint32
	// self is the server's address for the apex A/AAAA record (the NS
	// target); invalid when unknown.
	self atomic.Pointer[netip.Addr]
	// turn rotates the order of answers so that clients which take the
	// first record spread over the instances.
	turn atomic.Uint64
	// fwd answers the names outside the zone; nil: they are REFUSED.
	fwd *forwarder
}

func newResponder(reg *Registry, zone string, ttl uint32) *responder {
	zone = dns.CanonicalName(zone)
	return &responder{reg: reg, zone: zone, zoneLabels: dns.CountLabel(zone), ttl: ttl}
}

// reply returns the response to req, or nil when nothing should be sent
// (req is itself a response). udp selects the UDP size limit and
// truncation.
func (h *responder) reply(req *dns.Msg, udp bool) *dns.Msg {
	if req.Response {
		return nil
	}
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = h.fwd != nil
	if req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	}
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}

	size := dns.MinMsgSize
	opt := req.IsEdns0()
	if opt != nil {
		size = max(dns.MinMsgSize, min(int(opt.UDPSize()), maxUDPSize))
		if opt.Version() != 0 {
			resp.Rcode = dns.RcodeBadVers
			resp.SetEdns0(maxUDPSize, false)
			return resp
		}
	}

	h.answer(resp, req.Question[0], req.RecursionDesired)

	if opt != nil {
		resp.SetEdns0(maxUDPSize, false)
	}
	if udp {
		resp.Truncate(size)
	} else {
		resp.Truncate(dns.MaxMsgSize)
	}
	return resp
}

// answer fills resp for question q; rd is whether the client asked for
// recursion.
func (h *responder) answer(resp *dns.Msg, q dns.Question, rd bool) {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return
	}
	name := strings.ToLower(q.Name)
	labels, ok := h.relative(name)
	if !ok {
		h.forward(resp, q, rd)
		return
	}
	resp.Authoritative = true
	res := h.reg.resolve(labels)
	owner := q.Name
	if q.Qtype == dns.TypeANY && res.kind != nameMissing {
		// RFC 8482: ANY gets one small synthesized record instead of
		// every record of the name, which for a large service made an
		// answer 19 to 32 times the size of the query.
		resp.Answer = append(resp.Answer, h.anyAnswer(owner))
		return
	}

	switch res.kind {
	case nameMissing:
		resp.Rcode = dns.RcodeNameError
	case nameApex:
		switch q.Qtype {
		case dns.TypeSOA:
			resp.Answer = append(resp.Answer, h.soa())
		case dns.TypeNS:
			resp.Answer = append(resp.Answer, h.ns(owner))
			resp.Extra = h.selfRR(resp.Extra, h.zone, dns.TypeANY)
		case dns.TypeA, dns.TypeAAAA:
			resp.Answer = h.selfRR(resp.Answer, owner, q.Qtype)
		case dns.TypeANY:
			resp.Answer = append(resp.Answer, h.soa(), h.ns(owner))
		}
	case nameService, nameInstance:
		switch q.Qtype {
		case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
			resp.Answer = h.addrs(resp.Answer, owner, q.Qtype, res.healthy)
		case dns.TypeSRV:
			resp.Answer, resp.Extra = h.srvs(resp.Answer, resp.Extra, owner, &res)
		}
	case nameSRV:
		if q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeANY {
			resp.Answer, resp.Extra = h.srvs(resp.Answer, resp.Extra, owner, &res)
		}
	}
	if resp.Rcode == dns.RcodeNameError || len(resp.Answer) == 0 {
		// Negative answers carry the SOA so that resolvers can cache them
		// (RFC 2308).
		resp.Ns = append(resp.Ns, h.soa())
	}
}

// forward answers q, a name outside the zone: REFUSED when forwarding is
// off, for a query that does not ask for recursion, and for zone
// transfers and meta types; ANY as inside the zone (RFC 8482), without
// asking anybody; the rest from the upstreams.
func (h *responder) forward(resp *dns.Msg, q dns.Question, rd bool) {
	switch {
	case h.fwd == nil || !rd || q.Qclass != dns.ClassINET || !forwardable(q.Qtype):
		resp.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeANY:
		resp.Answer = append(resp.Answer, h.anyAnswer(q.Name))
	default:
		h.fwd.answer(resp, q)
	}
}

// relative returns the labels of name left of the zone, or false when name
// is outside the zone.
func (h *responder) relative(name string) ([]string, bool) {
	if !dns.IsSubDomain(h.zone, name) {
		return nil, false
	}
	labels := dns.SplitDomainName(name)
	n := len(labels) - h.zoneLabels
	if n < 0 {
		return nil, false
	}
	return labels[:n], true
}

// start picks where the rotation of n answers begins.
func (h *responder) start(n int) int {
	if n <= 1 {
		return 0
	}
	return int(h.turn.Add(1) % uint64(n))
}

// addrs appends the A (IPv4) and/or AAAA (IPv6) records of insts.
func (h *responder) addrs(rrs []dns.RR, owner string, qtype uint16, insts []Instance) []dns.RR {
	n := len(insts)
	first := h.start(n)
	for i := range n {
		rrs = h.addrRR(rrs, owner, qtype, insts[(first+i)%n].Addr)
	}
	return rrs
}

// addrRR appends addr's record when it matches qtype (TypeANY matches
// both).
func (h *responder) addrRR(rrs []dns.RR, owner string, qtype uint16, addr netip.Addr) []dns.RR {
	switch {
	case addr.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		ip := addr.As4()
		return append(rrs, &dns.A{Hdr: h.hdr(owner, dns.TypeA), A: ip[:]})
	case addr.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		ip := addr.As16()
		return append(rrs, &dns.AAAA{Hdr: h.hdr(owner, dns.TypeAAAA), AAAA: ip[:]})
	}
	return rrs
}

// srvs appends the SRV records of the instances that have a port to
// answer, and their addresses to extra.
func (h *responder) srvs(answer, extra []dns.RR, owner string, res *resolution) ([]dns.RR, []dns.RR) {
	n := len(res.healthy)
	first := h.start(n)
	for i := range n {
		inst := &res.healthy[(first+i)%n]
		if inst.Port == 0 {
			continue
		}
		target := res.target(inst, h.zone)
		answer = append(answer, &dns.SRV{
			Hdr:      h.hdr(owner, dns.TypeSRV),
			Priority: srvPriority,
			Weight:   srvWeight,
			Port:     inst.Port,
			Target:   target,
		})
		extra = h.addrRR(extra, target, dns.TypeANY, inst.Addr)
	}
	return answer, extra
}

// anyAnswer is the HINFO record RFC 8482 (section 4.2) has servers
// synthesize for ANY queries: CPU "RFC8482", OS empty.
func (h *responder) anyAnswer(owner string) dns.RR {
	return &dns.HINFO{Hdr: h.hdr(owner, dns.TypeHINFO), Cpu: "RFC8482", Os: ""}
}

func (h *responder) soa() dns.RR {
	return &dns.SOA{
		Hdr:     h.hdr(h.zone, dns.TypeSOA),
		Ns:      h.zone,
		Mbox:    "hostmaster." + h.zone,
		Serial:  uint32(h.reg.Version()),
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  h.ttl,
	}
}

// ns is the zone's NS record. The name server is the apex itself, which
// has the server's address: no name of the zone is reserved for it.
func (h *responder) ns(owner string) dns.RR {
	return &dns.NS{Hdr: h.hdr(owner, dns.TypeNS), Ns: h.zone}
}

// selfRR appends the server's own address record under owner.
func (h *responder) selfRR(rrs []dns.RR, owner string, qtype uint16) []dns.RR {
	if self := h.self.Load(); self != nil {
		return h.addrRR(rrs, owner, qtype, *self)
	}
	return rrs
}

func (h *responder) hdr(owner string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: h.ttl}
}
