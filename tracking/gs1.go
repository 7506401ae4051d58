package tracking

import (
	"fmt"
	"net/url"
	"strings"
)

// GS1 identifiers as EPCIS 2.0 writes them: EPC pure-identity URNs (urn:epc:id:sscc:...) and GS1
// Digital Link URIs (https://any.host/00/...). Both forms of the same key parse to the same
// GS1ID, so a parcel scanned under either is one parcel.

// GS1 identifier schemes.
const (
	SchemeSSCC  = "sscc"  // AI 00: a logistic unit, the parcel itself
	SchemeSGTIN = "sgtin" // AI 01 + 21: one serialised trade item
	SchemeGRAI  = "grai"  // AI 8003: a returnable asset (a crate, a cage)
	SchemeGIAI  = "giai"  // AI 8004: an individual asset
	SchemeSGLN  = "sgln"  // AI 414 (+254): a location
	SchemePGLN  = "pgln"  // AI 417: a party
)

// GS1ID is one parsed GS1 identifier.
type GS1ID struct {
	Scheme string
	// Key is the GS1 key with its check digit: SSCC 18 digits, GTIN 14, GRAI 14, GIAI as
	// given, GLN 13.
	Key string
	// Serial is the part the holder numbers itself: the SSCC's extension digit and serial
	// reference (known when the company prefix is), the SGTIN's and GRAI's serial, the GIAI's
	// asset reference (known when the company prefix is), the SGLN's extension.
	Serial string
	// Class says the identifier names a class of objects (a GTIN without serial, an LGTIN, an
	// EPC class or pattern URN), not one object: never a parcel.
	Class bool
}

// Element is the identifier as one GS1 element string without parentheses, the normalised form a
// carrier's waybill takes: an SSCC is its 18 digits; the others lead with their AI
// ("01" GTIN "21" serial, "8003" GRAI serial, "8004" GIAI).
func (g GS1ID) Element() string {
	switch g.Scheme {
	case SchemeSSCC:
		return g.Key
	case SchemeSGTIN:
		return "01" + g.Key + "21" + g.Serial
	case SchemeGRAI:
		return "8003" + g.Key + g.Serial
	case SchemeGIAI:
		return "8004" + g.Key
	}
	return g.Key
}

// GS1CheckDigit returns the GS1 mod-10 check digit of digits (the key without its check digit);
// ok is false when digits holds anything but 0-9 or nothing.
func GS1CheckDigit(digits string) (byte, bool) {
	if digits == "" {
		return 0, false
	}
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		w := 1
		if (len(digits)-1-i)%2 == 0 {
			w = 3
		}
		sum += int(c-'0') * w
	}
	return byte('0' + (10-sum%10)%10), true
}

// CheckGS1Key reports why key (n digits ending in their check digit) is not a valid GS1 key of
// name, or "" when it is.
func CheckGS1Key(name, key string, n int) string {
	if len(key) != n || !isDigits(key) {
		return fmt.Sprintf("%s: %d digits", name, n)
	}
	if c, _ := GS1CheckDigit(key[:n-1]); c != key[n-1] {
		return fmt.Sprintf("%s: check digit %c is wrong (want %c)", name, key[n-1], c)
	}
	return ""
}

// CheckGLN reports why gln is not a 13-digit Global Location Number with its check digit, or
// "" when it is.
func CheckGLN(gln string) string { return CheckGS1Key("gln", gln, 13) }

// isGS1URI reports whether uri is in a form ParseGS1 reads: an EPC URN or an http(s) URI.
func isGS1URI(uri string) bool {
	l := strings.ToLower(uri)
	return strings.HasPrefix(l, "urn:epc:") || isDigitalLink(l)
}

func isDigitalLink(uri string) bool {
	l := strings.ToLower(uri)
	if !strings.HasPrefix(l, "https://") && !strings.HasPrefix(l, "http://") {
		return false
	}
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	_, _, ok := primaryAI(strings.Split(strings.Trim(u.EscapedPath(), "/"), "/"))
	return ok
}

// digitalLinkAIs are the primary-key AIs read from a Digital Link path.
var digitalLinkAIs = map[string]bool{"00": true, "01": true, "8003": true, "8004": true, "414": true, "417": true}

// primaryAI finds the first primary-key AI in a Digital Link path (after any prefix path the host
// uses) and the segments after it.
func primaryAI(segs []string) (ai string, rest []string, ok bool) {
	for i := 0; i+1 < len(segs); i++ {
		if digitalLinkAIs[segs[i]] {
			return segs[i], segs[i+1:], true
		}
	}
	return "", nil, false
}

// ParseGS1 reads an EPC URN or a GS1 Digital Link URI. It answers an error naming what is wrong
// (an unknown scheme, a malformed key, a wrong check digit).
func ParseGS1(uri string) (GS1ID, error) {
	uri = strings.TrimSpace(uri)
	if strings.HasPrefix(strings.ToLower(uri), "urn:epc:") {
		return parseEPCURN(uri)
	}
	return parseDigitalLink(uri)
}

func parseEPCURN(uri string) (GS1ID, error) {
	parts := strings.SplitN(uri, ":", 5)
	if len(parts) < 5 {
		return GS1ID{}, fmt.Errorf("%q: not an EPC URN (urn:epc:id:<scheme>:<fields>)", uri)
	}
	kind, scheme, body := strings.ToLower(parts[2]), strings.ToLower(parts[3]), parts[4]
	switch kind {
	case "class", "idpat":
		return GS1ID{Scheme: scheme, Key: body, Class: true}, nil
	case "id":
	default:
		return GS1ID{}, fmt.Errorf("%q: urn:epc:%s is not an identifier", uri, kind)
	}
	f := strings.Split(body, ".")
	for i := range f {
		if u, err := url.PathUnescape(f[i]); err == nil {
			f[i] = u
		}
	}
	need := map[string]int{SchemeSSCC: 2, SchemeSGTIN: 3, SchemeGRAI: 3, SchemeGIAI: 2, SchemeSGLN: 3, SchemePGLN: 2}
	n, known := need[scheme]
	if !known {
		return GS1ID{}, fmt.Errorf("%q: EPC scheme %q is not one credtrace reads (sscc, sgtin, grai, giai, sgln, pgln)", uri, scheme)
	}
	if len(f) != n || f[0] == "" || !isDigits(f[0]) {
		return GS1ID{}, fmt.Errorf("%q: an %s URN has %d dot-separated fields, the first the company prefix", uri, scheme, n)
	}
	cp := f[0]
	withCheck := func(name, digits string, size int) (string, error) {
		if len(digits) != size-1 || !isDigits(digits) {
			return "", fmt.Errorf("%q: company prefix and reference make %d digits, want %d", uri, len(digits), size-1)
		}
		c, _ := GS1CheckDigit(digits)
		return digits + string(c), nil
	}
	var g GS1ID
	var err error
	switch scheme {
	case SchemeSSCC: // cp.extension+serialReference
		if f[1] == "" {
			return GS1ID{}, fmt.Errorf("%q: no serial reference", uri)
		}
		g = GS1ID{Scheme: scheme, Serial: f[1]}
		g.Key, err = withCheck("sscc", f[1][:1]+cp+f[1][1:], 18)
	case SchemeSGTIN: // cp.indicator+itemReference.serial
		if f[1] == "" || f[2] == "" {
			return GS1ID{}, fmt.Errorf("%q: an SGTIN needs an item reference and a serial", uri)
		}
		g = GS1ID{Scheme: scheme, Serial: f[2]}
		g.Key, err = withCheck("gtin", f[1][:1]+cp+f[1][1:], 14)
	case SchemeGRAI: // cp.assetType.serial
		g = GS1ID{Scheme: scheme, Serial: f[2]}
		g.Key, err = withCheck("grai", "0"+cp+f[1], 14)
		if err == nil && f[2] == "" {
			g.Class = true // a GRAI without serial is an asset type
		}
	case SchemeGIAI: // cp.individualAssetReference
		if f[1] == "" {
			return GS1ID{}, fmt.Errorf("%q: no asset reference", uri)
		}
		g = GS1ID{Scheme: scheme, Key: cp + f[1], Serial: f[1]}
	case SchemeSGLN: // cp.locationReference.extension
		g = GS1ID{Scheme: scheme, Serial: f[2]}
		g.Key, err = withCheck("gln", cp+f[1], 13)
	case SchemePGLN: // cp.partyReference
		g = GS1ID{Scheme: scheme}
		g.Key, err = withCheck("gln", cp+f[1], 13)
	}
	return g, err
}

func parseDigitalLink(uri string) (GS1ID, error) {
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return GS1ID{}, fmt.Errorf("%q: neither an EPC URN nor a GS1 Digital Link URI", uri)
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	ai, rest, ok := primaryAI(segs)
	if !ok {
		return GS1ID{}, fmt.Errorf("%q: a Digital Link path names a primary key (00, 01, 8003, 8004, 414, 417)", uri)
	}
	val := func(i int) string {
		if i >= len(rest) {
			return ""
		}
		v, err := url.PathUnescape(rest[i])
		if err != nil {
			return rest[i]
		}
		return v
	}
	key := val(0)
	// qualifier returns the value of the key qualifier AI q when the path has one.
	qualifier := func(q string) (string, bool) {
		for i := 1; i+1 < len(rest); i += 2 {
			if rest[i] == q {
				return val(i + 1), true
			}
		}
		return "", false
	}
	check := func(name string, n int) error {
		if why := CheckGS1Key(name, key, n); why != "" {
			return fmt.Errorf("%q: %s", uri, why)
		}
		return nil
	}
	switch ai {
	case "00":
		return GS1ID{Scheme: SchemeSSCC, Key: key}, check("sscc", 18)
	case "01":
		if len(key) == 8 || len(key) == 12 || len(key) == 13 {
			key = strings.Repeat("0", 14-len(key)) + key
		}
		if err := check("gtin", 14); err != nil {
			return GS1ID{}, err
		}
		if serial, ok := qualifier("21"); ok && serial != "" {
			return GS1ID{Scheme: SchemeSGTIN, Key: key, Serial: serial}, nil
		}
		return GS1ID{Scheme: SchemeSGTIN, Key: key, Class: true}, nil
	case "8003":
		if len(key) < 14 {
			return GS1ID{}, fmt.Errorf("%q: grai: 14 digits then the serial", uri)
		}
		serial := key[14:]
		key = key[:14]
		if err := check("grai", 14); err != nil {
			return GS1ID{}, err
		}
		return GS1ID{Scheme: SchemeGRAI, Key: key, Serial: serial, Class: serial == ""}, nil
	case "8004":
		if key == "" || len(key) > 30 {
			return GS1ID{}, fmt.Errorf("%q: giai: 1 to 30 characters", uri)
		}
		return GS1ID{Scheme: SchemeGIAI, Key: key}, nil
	case "414":
		ext, _ := qualifier("254")
		if ext == "" {
			ext = "0"
		}
		return GS1ID{Scheme: SchemeSGLN, Key: key, Serial: ext}, check("gln", 13)
	default: // "417"
		return GS1ID{Scheme: SchemePGLN, Key: key}, check("gln", 13)
	}
}
