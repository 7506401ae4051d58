package courier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// usccAlphabet is the GB 32100-2015 character set; a character's value is its index.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// USCCCheck returns the GB 32100 check character of a code's first 17 characters; ok is false
// when they are not 17 characters of the alphabet.
func USCCCheck(first17 string) (check byte, ok bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * usccWeights[i]
	}
	return usccAlphabet[(31-sum%31)%31], true
}

// CheckUSCC reports why code is not a valid unified social credit code, or "" when it is.
func CheckUSCC(code string) string {
	if len(code) != 18 {
		return "must be 18 characters"
	}
	check, ok := USCCCheck(code[:17])
	if !ok {
		for i := 0; i < 17; i++ {
			if strings.IndexByte(usccAlphabet, code[i]) < 0 {
				return "character " + string(code[i]) + " is not in the GB 32100 alphabet"
			}
		}
	}
	if code[17] != check {
		return "check character mismatch (GB 32100)"
	}
	return ""
}

var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const residentChecks = "10X98765432"

// ResidentIDCheck returns the GB 11643 check character of a number's first 17 digits; ok is
// false when they are not 17 digits.
func ResidentIDCheck(first17 string) (check byte, ok bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		sum += int(c-'0') * residentWeights[i]
	}
	return residentChecks[sum%11], true
}

// CheckResidentID reports why id is not a valid resident ID number (GB 11643), or "" when it is.
// The reason never repeats the number.
func CheckResidentID(id string) string {
	if len(id) != 18 {
		return "must be 18 characters"
	}
	check, ok := ResidentIDCheck(id[:17])
	if !ok {
		return "first 17 characters must be digits"
	}
	if id[17] != check {
		return "check digit mismatch (GB 11643)"
	}
	return ""
}

// CheckPhone reports why p is not a mainland mobile number, or "" when it is.
func CheckPhone(p string) string {
	if len(p) != 11 || p[0] != '1' {
		return "must be an 11-digit mobile number starting with 1"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "must contain digits only"
		}
	}
	return ""
}

// CheckRegion reports why r is not a 6-digit administrative division code, or "" when it is.
func CheckRegion(r string) string {
	if len(r) != 6 {
		return "must be a 6-digit administrative division code"
	}
	for i := 0; i < 6; i++ {
		if r[i] < '0' || r[i] > '9' {
			return "must be a 6-digit administrative division code"
		}
	}
	if r[:2] < "11" || r[:2] > "82" {
		return "province part must be between 11 and 82"
	}
	return ""
}

// MaskResidentID keeps the region part and the last four characters.
func MaskResidentID(id string) string {
	if len(id) < 10 {
		return strings.Repeat("*", len(id))
	}
	return id[:6] + strings.Repeat("*", len(id)-10) + id[len(id)-4:]
}

// MaskPhone keeps the first three and the last four digits.
func MaskPhone(p string) string {
	if len(p) < 7 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// Hasher turns personal data into a keyed hash for matching; the key never leaves the service.
type Hasher struct {
	key []byte
}

// NewHasher returns a Hasher keyed by secret.
func NewHasher(secret []byte) *Hasher { return &Hasher{key: append([]byte(nil), secret...)} }

// Hash returns the HMAC-SHA256 of value under purpose, base64url without padding (43
// characters), so that equal values under different purposes (an ID number and a phone) never match.
func (h *Hasher) Hash(purpose, value string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToUpper(strings.TrimSpace(value))))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckGLN reports why gln is not a GS1 Global Location Number (13 digits ending in their
// mod-10 check digit), or "" when it is or is empty. withExtension allows a site's form,
// GLN.extension (the AI 254 extension: 1 to 20 letters, digits, '-' or '_'). The check digit
// is computed here as well as in tracking, which courier does not import.
func CheckGLN(gln string, withExtension bool) string {
	if gln == "" {
		return ""
	}
	base, ext, dotted := strings.Cut(gln, ".")
	if dotted && !withExtension {
		return "a party GLN has no extension: 13 digits"
	}
	if dotted && (ext == "" || len(ext) > 20 || strings.Trim(ext, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_") != "") {
		return "the extension after the dot is 1 to 20 letters, digits, '-' or '_'"
	}
	if len(base) != 13 || strings.Trim(base, "0123456789") != "" {
		return "a GLN is 13 digits"
	}
	sum := 0
	for i := 0; i < 12; i++ {
		w := 1
		if i%2 == 1 {
			w = 3
		}
		sum += int(base[i]-'0') * w
	}
	if want := byte('0' + (10-sum%10)%10); base[12] != want {
		return fmt.Sprintf("check digit %c is wrong (want %c)", base[12], want)
	}
	return ""
}
