package tracking

import "strings"

// GS1 EPCIS 2.0 interop: the Core Business Vocabulary's bizSteps and dispositions map onto the
// normalised codes. A bizStep may also be one of credtrace's own codes (as a CBV extension).
var bizSteps = map[string]Code{
	"accepting":     Collected,
	"commissioning": Collected,
	"arriving":      Arrived,
	"receiving":     Arrived,
	"unloading":     Arrived,
	"departing":     Departed,
	"shipping":      Departed,
	"loading":       Departed,
	"transporting":  InTransit,
	"storing":       HeldForPickup,
	"holding":       HeldForPickup,
	"returning":     Returned,
}

var dispositions = map[string]Code{
	"damaged":   Damaged,
	"stolen":    Lost,
	"destroyed": Lost,
	"returned":  Returned,
}

// cbvName strips a CBV URN or web URI down to its short name: "urn:epcglobal:cbv:bizstep:shipping"
// and "https://ref.gs1.org/cbv/BizStep-shipping" both become "shipping".
func cbvName(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexAny(v, ":/"); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, '-'); i >= 0 {
		v = v[i+1:]
	}
	return strings.ToLower(v)
}

// EPCISCode maps an ObjectEvent's bizStep and disposition to a normalised code. A disposition
// that means the parcel is damaged, lost or returned wins over the bizStep.
func EPCISCode(bizStep, disposition string) (Code, bool) {
	if c, ok := dispositions[cbvName(disposition)]; ok {
		return c, true
	}
	name := cbvName(bizStep)
	if c := Code(name); c.Valid() {
		return c, true
	}
	c, ok := bizSteps[name]
	return c, ok
}

// EPCISRef takes the identifier at the end of an EPC, location or party URI
// ("urn:epc:id:sgln:0614141.00777.0" → "0614141.00777.0"; "https://x/site/abc" → "abc").
func EPCISRef(uri string) string {
	uri = strings.TrimSpace(uri)
	if i := strings.LastIndexAny(uri, ":/"); i >= 0 {
		return uri[i+1:]
	}
	return uri
}
