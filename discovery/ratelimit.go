package discovery

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults of the per-client rate limit (Config.RateLimit, RateBurst,
// RateClients).
const (
	// DefaultRateLimit is how many queries per second a client may send
	// on average. It is generous: Go programs do not cache lookups, and a
	// busy one asks for A and AAAA on every connection. Its purpose is to
	// keep one client (or one spoofed source) to a small share of the
	// server, not to shape normal traffic.
	DefaultRateLimit = 2000
	// DefaultRateBurst is how many queries a quiet client may send at
	// once: two seconds' worth.
	DefaultRateBurst = 2 * DefaultRateLimit
	// DefaultRateClients is how many client addresses the limiter tracks.
	DefaultRateClients = 4096
)

// limiter is a token bucket per client: IPv4 addresses each (every task
// has its own), IPv6 addresses by /64 (what one host can pick from). The
// table holds at most maxClients buckets. When it is full, buckets that
// have refilled (their clients were quiet long enough to be forgotten)
// are dropped; if none has, new clients share one overflow bucket until
// room is made, so that a flood from many (spoofed) sources costs bounded
// memory and still leaves new clients a share.
type limiter struct {
	rate, burst float64 // tokens per second, bucket size
	maxClients  int

	mu        sync.Mutex
	clients   map[netip.Prefix]bucket
	overflow  bucket
	lastSweep time.Time
	drops     uint64 // UDP queries over the limit, for the TC slip
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

func newLimiter(rate float64, burst, maxClients int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), maxClients: maxClients, clients: map[netip.Prefix]bucket{}}
}

// clientKey is the part of addr that identifies a client.
func clientKey(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{} // an unknown address: one shared bucket
	}
	return p
}

// refill brings b up to now and reports whether it is full.
func (l *limiter) refill(b *bucket, now time.Time) bool {
	if b.at.IsZero() {
		b.tokens = l.burst
	} else if d := now.Sub(b.at); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
	}
	if now.After(b.at) {
		b.at = now
	}
	return b.tokens >= l.burst
}

// allow takes a token from addr's bucket at now, and reports whether there
// was one.
func (l *limiter) allow(addr netip.Addr, now time.Time) bool {
	key := clientKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.clients[key]
	if !ok && len(l.clients) >= l.maxClients {
		l.sweep(now)
		if len(l.clients) >= l.maxClients {
			return l.take(&l.overflow, now)
		}
	}
	allowed := l.take(&b, now)
	l.clients[key] = b
	return allowed
}

func (l *limiter) take(b *bucket, now time.Time) bool {
	l.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sweep forgets the clients whose buckets have refilled: a fresh bucket
// would be the same. It runs at most once per refill period, so that a
// full table of busy clients does not cost a scan per query.
func (l *limiter) sweep(now time.Time) {
	refillTime := time.Duration(l.burst / l.rate * float64(time.Second))
	if !l.lastSweep.IsZero() && now.Sub(l.lastSweep) < refillTime {
		return
	}
	l.lastSweep = now
	for k, b := range l.clients {
		if l.refill(&b, now) {
			delete(l.clients, k)
		}
	}
}

// slip reports whether a UDP query over the limit gets a truncated empty
// answer rather than nothing: every second one does (BIND's RRL "slip 2"),
// so that a real client soon retries over TCP, while a spoofed flood is
// reflected at most once in two, and never larger than the query.
func (l *limiter) slip() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.drops++
	return l.drops%2 == 0
}

// size is the number of clients tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
