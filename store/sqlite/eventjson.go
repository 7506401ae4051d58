package sqlite

import (
	"strconv"
	"unicode/utf8"

	"github.com/credtrace/credtrace/tracking"
)

// appendEvent writes an event's stored JSON without reflection: ingestion writes one per
// event inside the write transaction, where encoding/json was a tenth of the time. The
// carrier, id, waybill and hash live in their columns, and the statistics deltas are not
// kept: a replay of the journal folds them again. The output decodes into eventJSON; a test
// keeps the two in step.
func appendEvent(b []byte, e tracking.Event) []byte {
	b = append(b, '{')
	b = appendStr(b, "code", string(e.Code), true)
	b = appendStr(b, "raw_code", e.RawCode, false)
	b = appendInt(b, "at", msInt(e.At), true)
	b = appendStr(b, "site", e.SiteID, false)
	b = appendStr(b, "staff", e.StaffID, false)
	b = appendStr(b, "firm", e.FirmID, false)
	if e.Holder != defaultHolder(e) { // most scans leave the parcel with the scanner: say nothing
		b = append(b, `"holder":{`...)
		n := len(b)
		b = appendStr(b, "kind", string(e.Holder.Kind), false)
		b = appendStr(b, "firm", e.Holder.FirmID, false)
		b = appendStr(b, "site", e.Holder.SiteID, false)
		b = appendStr(b, "staff", e.Holder.StaffID, false)
		if len(b) > n {
			b = b[:len(b)-1]
		}
		b = append(b, "},"...)
	}
	b = appendStr(b, "region", e.Region, false)
	if e.Lat != nil && e.Lng != nil {
		b = append(b, `"lat":`...)
		b = strconv.AppendFloat(b, *e.Lat, 'g', -1, 64)
		b = append(b, `,"lng":`...)
		b = strconv.AppendFloat(b, *e.Lng, 'g', -1, 64)
		b = append(b, ',')
	}
	b = appendInt(b, "weight_g", int64(e.WeightGrams), false)
	b = appendStr(b, "signer", e.Signer, false)
	b = appendStr(b, "merchant", e.MerchantID, false)
	b = appendStr(b, "recipient_key", e.RecipientKey, false)
	b = appendStr(b, "recipient_id", e.RecipientID, false)
	b = appendStr(b, "remark", e.Remark, false)
	b = appendStr(b, "ext", e.Extensions, false)
	b = appendInt(b, "received_at", msInt(e.ReceivedAt), true)
	b[len(b)-1] = '}'
	return b
}

// defaultHolder is who holds a parcel after e when the event names nobody else: the
// recipient after a delivery, else the scanning firm, site and person.
func defaultHolder(e tracking.Event) tracking.Holder {
	if e.Code == tracking.Delivered {
		return tracking.Holder{Kind: tracking.HolderRecipient}
	}
	return tracking.Holder{Kind: tracking.HolderFirm, FirmID: e.FirmID, SiteID: e.SiteID, StaffID: e.StaffID}
}

func appendStr(b []byte, key, v string, always bool) []byte {
	if v == "" && !always {
		return b
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	b = appendJSONString(b, v)
	return append(b, ',')
}

func appendInt(b []byte, key string, v int64, always bool) []byte {
	if v == 0 && !always {
		return b
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	b = strconv.AppendInt(b, v, 10)
	return append(b, ',')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
