package tracking_test

import (
	"strings"
	"testing"

	"github.com/credtrace/credtrace/tracking"
)

// Every form a capture system writes the same GS1 key in parses to the same identifier, and so
// to the same waybill.
func TestParseGS1(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, uri string
		want      tracking.GS1ID
	}{
		{"SSCC URN", "urn:epc:id:sscc:0614141.1234567890", tracking.GS1ID{Scheme: "sscc", Key: "106141412345678908", Serial: "1234567890"}},
		{"SSCC Digital Link", "https://id.gs1.org/00/106141412345678908", tracking.GS1ID{Scheme: "sscc", Key: "106141412345678908"}},
		{"SSCC Digital Link on a carrier's host with a path prefix", "https://scan.example.cn/dl/00/106141412345678908?x=1", tracking.GS1ID{Scheme: "sscc", Key: "106141412345678908"}},
		{"SGTIN URN", "urn:epc:id:sgtin:0614141.112345.400", tracking.GS1ID{Scheme: "sgtin", Key: "10614141123459", Serial: "400"}},
		{"SGTIN URN, escaped serial", "urn:epc:id:sgtin:0614141.112345.A%2FB", tracking.GS1ID{Scheme: "sgtin", Key: "10614141123459", Serial: "A/B"}},
		{"SGTIN Digital Link", "https://example.com/01/10614141123459/21/400", tracking.GS1ID{Scheme: "sgtin", Key: "10614141123459", Serial: "400"}},
		{"SGTIN Digital Link, GTIN-13 padded", "https://example.com/01/0614141123452/21/9", tracking.GS1ID{Scheme: "sgtin", Key: "00614141123452", Serial: "9"}},
		{"GRAI URN", "urn:epc:id:grai:0614141.12345.400", tracking.GS1ID{Scheme: "grai", Key: "00614141123452", Serial: "400"}},
		{"GRAI Digital Link", "https://example.com/8003/00614141123452400", tracking.GS1ID{Scheme: "grai", Key: "00614141123452", Serial: "400"}},
		{"GIAI URN", "urn:epc:id:giai:0614141.12345400", tracking.GS1ID{Scheme: "giai", Key: "061414112345400", Serial: "12345400"}},
		{"GIAI Digital Link", "https://example.com/8004/061414112345400", tracking.GS1ID{Scheme: "giai", Key: "061414112345400"}},
		{"SGLN URN", "urn:epc:id:sgln:0614141.00777.0", tracking.GS1ID{Scheme: "sgln", Key: "0614141007776", Serial: "0"}},
		{"SGLN Digital Link with extension", "https://id.gs1.org/414/0614141007776/254/dock3", tracking.GS1ID{Scheme: "sgln", Key: "0614141007776", Serial: "dock3"}},
		{"PGLN URN", "urn:epc:id:pgln:0614141.00888", tracking.GS1ID{Scheme: "pgln", Key: "0614141008889"}},
		{"PGLN Digital Link", "https://id.gs1.org/417/0614141008889", tracking.GS1ID{Scheme: "pgln", Key: "0614141008889"}},
		{"GTIN without serial (class)", "https://example.com/01/10614141123459", tracking.GS1ID{Scheme: "sgtin", Key: "10614141123459", Class: true}},
		{"LGTIN class URN", "urn:epc:class:lgtin:0614141.112345.LOT1", tracking.GS1ID{Scheme: "lgtin", Key: "0614141.112345.LOT1", Class: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tracking.ParseGS1(c.uri)
			if err != nil || got != c.want {
				t.Errorf("ParseGS1(%q) = %+v, %v; want %+v", c.uri, got, err, c.want)
			}
		})
	}
	bad := []struct{ name, uri, want string }{
		{"SSCC check digit", "https://id.gs1.org/00/106141412345678907", "check digit"},
		{"GTIN check digit", "https://example.com/01/10614141123458/21/400", "check digit"},
		{"GLN check digit", "https://id.gs1.org/414/0614141007775", "check digit"},
		{"SSCC too short", "urn:epc:id:sscc:0614141.12345", "digits"},
		{"unknown EPC scheme", "urn:epc:id:gsrn:0614141.1234567890", "gsrn"},
		{"no primary key", "https://example.com/99/123", "primary key"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if got, err := tracking.ParseGS1(c.uri); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("ParseGS1(%q) = %+v, %v; want an error naming %q", c.uri, got, err, c.want)
			}
		})
	}
}

// A carrier's rule decides the waybill: the key itself (default), or the serial it numbers.
func TestCarrierWaybill(t *testing.T) {
	t.Parallel()
	key := tracking.CarrierConfig{}
	serial := tracking.CarrierConfig{WaybillRule: tracking.WaybillSerial, GS1Prefixes: []string{"0614141"}}
	cases := []struct {
		name  string
		cfg   tracking.CarrierConfig
		uri   string
		want  string
		class bool
		why   string
	}{
		{"SSCC URN is its 18 digits", key, "urn:epc:id:sscc:0614141.1234567890", "106141412345678908", false, ""},
		{"SSCC Digital Link, the same", key, "https://id.gs1.org/00/106141412345678908", "106141412345678908", false, ""},
		{"SGTIN as its element string", key, "urn:epc:id:sgtin:0614141.112345.400", "011061414112345921400", false, ""},
		{"GRAI", key, "https://example.com/8003/00614141123452400", "800300614141123452400", false, ""},
		{"GIAI", key, "urn:epc:id:giai:0614141.12345400", "8004061414112345400", false, ""},
		{"the carrier's own URI: its last segment", key, "urn:waybill:SF1000000001", "SF1000000001", false, ""},
		{"serial of an SSCC URN", serial, "urn:epc:id:sscc:0614141.1234567890", "1234567890", false, ""},
		{"serial of an SSCC Digital Link, by the configured prefix", serial, "https://id.gs1.org/00/106141412345678908", "1234567890", false, ""},
		{"serial rule, another company's SSCC", serial, "https://id.gs1.org/00/140123450000000013", "", false, "gs1_prefixes"},
		{"class level", key, "https://example.com/01/10614141123459", "", true, "class"},
		{"a location is no parcel", key, "urn:epc:id:sgln:0614141.00777.0", "", false, "location"},
		{"a serial that is no waybill", key, "urn:epc:id:sgtin:0614141.112345.a%2Fb", "", false, "not 6 to 40"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, class, why := c.cfg.Waybill(c.uri)
			if got != c.want || class != c.class || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
				t.Errorf("Waybill(%q) = %q, class %v, %q; want %q, class %v, a reason naming %q", c.uri, got, class, why, c.want, c.class, c.why)
			}
		})
	}
}
