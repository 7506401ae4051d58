package tracking

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// EPCIS 2.0 AggregationEvent, TransactionEvent and errorDeclaration, as credtrace reads them:
// identifiers are taken as the EPCIS decoder gives them (EPCISRef of the EPC: the waybill, or
// the container's id).

// EPCISAggregation is one AggregationEvent: parcels (childEPCs) packed into a container
// (parentID) with action ADD, taken out with DELETE (no childEPCs: every parcel inside).
type EPCISAggregation struct {
	EventID     string
	At          time.Time
	Action      string
	ParentID    string
	ChildEPCs   []string
	BizLocation string
	ReadPoint   string
	Staff       string // credtrace:staff
	Raw         []byte // the event as sent: names an event without an eventID
}

// epcisEventID is the event's id, or the hash of its text when it has none.
func epcisEventID(id string, raw []byte) string {
	if id == "" {
		sum := sha256.Sum256(raw)
		return "epcis-" + hex.EncodeToString(sum[:12])
	}
	return EPCISRef(id)
}

// Input maps the aggregation onto a packing of carrier's container; the reason names the
// field when it maps to none. OBSERVE, which changes no content, is answered as such.
func (a EPCISAggregation) Input(carrier string) (PackInput, string) {
	in := PackInput{ID: epcisEventID(a.EventID, a.Raw), Carrier: carrier, Container: EPCISRef(a.ParentID), At: a.At, Staff: a.Staff}
	in.Site = EPCISRef(a.BizLocation)
	if in.Site == "" {
		in.Site = EPCISRef(a.ReadPoint)
	}
	for _, epc := range a.ChildEPCs {
		in.Waybills = append(in.Waybills, EPCISRef(epc))
	}
	switch strings.ToUpper(strings.TrimSpace(a.Action)) {
	case "ADD":
	case "DELETE":
		in.Unpack = true
	case "OBSERVE":
		return in, "action: OBSERVE of an aggregation changes no container; scan the container with an ObjectEvent on its id"
	default:
		return in, "action: one of ADD, OBSERVE, DELETE"
	}
	if in.Container == "" {
		return in, "parentID: required (the container)"
	}
	return in, ""
}

// EPCISBizTransaction is one entry of a bizTransactionList.
type EPCISBizTransaction struct {
	Type, ID string
}

// EPCISTransaction is one TransactionEvent: parcels (epcList, or parentID) linked to business
// transactions.
type EPCISTransaction struct {
	EventID      string
	At           time.Time
	Action       string
	ParentID     string
	EPCs         []string
	Transactions []EPCISBizTransaction
	Raw          []byte
}

// Input maps the transaction onto order links of carrier's parcels. DELETE (unlinking) is
// answered as not supported: a reference stays on the parcel once given.
func (x EPCISTransaction) Input(carrier string) (OrderInput, string) {
	in := OrderInput{ID: epcisEventID(x.EventID, x.Raw), Carrier: carrier, At: x.At}
	for _, epc := range x.EPCs {
		in.Waybills = append(in.Waybills, EPCISRef(epc))
	}
	if len(in.Waybills) == 0 && x.ParentID != "" {
		in.Waybills = []string{EPCISRef(x.ParentID)}
	}
	for _, t := range x.Transactions {
		in.Refs = append(in.Refs, OrderRef{Type: t.Type, ID: strings.TrimSpace(t.ID)})
	}
	switch strings.ToUpper(strings.TrimSpace(x.Action)) {
	case "ADD", "OBSERVE":
	case "DELETE":
		return in, "action: DELETE of a transaction is not supported: a parcel keeps its order references"
	default:
		return in, "action: one of ADD, OBSERVE, DELETE"
	}
	return in, ""
}

// EPCISErrorDeclaration is an event resubmitted with an errorDeclaration: the event of the same
// eventID is declared erroneous.
type EPCISErrorDeclaration struct {
	EventID            string
	DeclarationTime    time.Time
	Reason             string
	CorrectiveEventIDs []string
}

// Input maps the declaration onto a retraction of carrier's event.
func (d EPCISErrorDeclaration) Input(carrier string) (RetractInput, string) {
	if d.EventID == "" {
		return RetractInput{}, "eventID: required to declare an event erroneous"
	}
	in := RetractInput{Carrier: carrier, EventID: EPCISRef(d.EventID), Reason: cbvName(d.Reason), DeclaredAt: d.DeclarationTime}
	for _, id := range d.CorrectiveEventIDs {
		in.CorrectiveIDs = append(in.CorrectiveIDs, EPCISRef(id))
	}
	return in, ""
}
