package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Sign is the hex HMAC-SHA256 with secret over "<t>.<body>", t in Unix seconds.
func Sign(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(t, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// SignatureValue is the SignatureHeader of body at t: t=<t>, then v1=<signature> for each
// secret.
func SignatureValue(t time.Time, body []byte, secrets ...string) string {
	ts := t.Unix()
	parts := []string{"t=" + strconv.FormatInt(ts, 10)}
	for _, s := range secrets {
		parts = append(parts, "v1="+Sign(s, ts, body))
	}
	return strings.Join(parts, ",")
}

// Verify checks a SignatureHeader value against body with secret, as a receiver does: one of
// its v1 signatures must match, and its timestamp must be within tolerance of now (a replayed
// old request fails).
func Verify(header string, body []byte, secret string, tolerance time.Duration, now time.Time) error {
	var ts int64 = -1
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("webhook signature: bad timestamp")
			}
			ts = n
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts < 0 || len(sigs) == 0 {
		return errors.New("webhook signature: no t= or v1=")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook signature: timestamp %d outside the tolerance of %s", ts, tolerance)
	}
	want := Sign(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook signature: no v1 matches the secret")
}

// Private reports whether ip is no public receiver's: loopback, private (RFC 1918, RFC 4193),
// link-local, unspecified, multicast, carrier-grade NAT (100.64/10) or an IPv4-mapped form of
// one of them.
func Private(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return true
	}
	a = a.Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	return cgnat.Contains(a) || benchmarking.Contains(a) || reserved.Contains(a)
}

var (
	cgnat        = netip.MustParsePrefix("100.64.0.0/10")
	benchmarking = netip.MustParsePrefix("198.18.0.0/15")
	reserved     = netip.MustParsePrefix("240.0.0.0/4")
)

// ErrPrivateAddress is the dialer's refusal of a private receiver address.
var ErrPrivateAddress = errors.New("receiver address is loopback, private or link-local")

// refusePrivate is a net.Dialer Control: it runs on the address actually dialled, after the
// name was resolved, so a name that resolves to a private address at delivery time (DNS
// rebinding) is refused as well as one that did at subscription.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || Private(ip) {
		return fmt.Errorf("dial %s: %w", address, ErrPrivateAddress)
	}
	return nil
}
