package tracking

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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

// EPCISObject is one EPCIS 2.0 ObjectEvent as credtrace reads it, its fields as they came.
type EPCISObject struct {
	EventID      string
	At           time.Time
	BizStep      string
	Disposition  string
	EPCs         []string
	BizLocation  string // the site (an id or a location URI)
	ReadPoint    string // the site when there is no bizLocation
	Destinations []EPCISDestination
	Staff        string // credtrace:staff
	Signer       string // credtrace:signer
	// Raw is the event as sent: its hash names an event without an eventID, so that a retry
	// of the same event is the same event.
	Raw []byte
}

// EPCISDestination is one entry of an ObjectEvent's destinationList.
type EPCISDestination struct {
	Type        string
	Destination string
}

// Inputs maps the event onto tracking events of carrier, with the EPCIS defaults: one event per
// EPC (the EPC's last segment is the waybill; ids get "#i" when there are several), bizStep and
// disposition give the code, bizLocation (else readPoint) the site, the destinationList's
// owning or possessing party the new holder, a delivery without a signer is signed by the
// recipient, and an event without an eventID is named by the hash of its text. It answers why
// the event maps to nothing, as a reason naming the field, when it does.
func (o EPCISObject) Inputs(carrier string) ([]EventInput, string) {
	code, ok := EPCISCode(o.BizStep, o.Disposition)
	if !ok {
		return nil, fmt.Sprintf("bizStep: %q (disposition %q) maps to no tracking code", o.BizStep, o.Disposition)
	}
	if len(o.EPCs) == 0 {
		return nil, "epcList: at least one EPC (the waybill)"
	}
	base := o.EventID
	if base == "" {
		sum := sha256.Sum256(o.Raw)
		base = "epcis-" + hex.EncodeToString(sum[:12])
	}
	base = EPCISRef(base)
	site := EPCISRef(o.BizLocation)
	if site == "" {
		site = EPCISRef(o.ReadPoint)
	}
	var holder *HolderInput
	for _, d := range o.Destinations {
		if typ := EPCISRef(d.Type); typ == "owning_party" || typ == "possessing_party" {
			holder = &HolderInput{Firm: EPCISRef(d.Destination)}
		}
	}
	ins := make([]EventInput, 0, len(o.EPCs))
	for i, epc := range o.EPCs {
		in := EventInput{ID: base, Waybill: EPCISRef(epc), Carrier: carrier, Code: string(code), At: o.At, Site: site, Holder: holder,
			Staff: o.Staff, Signer: o.Signer, Remark: "EPCIS " + o.BizStep}
		if len(o.EPCs) > 1 {
			in.ID = base + "#" + strconv.Itoa(i)
		}
		if code == Delivered && in.Signer == "" {
			in.Signer = SignerRecipient
		}
		ins = append(ins, in)
	}
	return ins, ""
}
