package courier_test

import (
	"strings"
	"testing"

	"github.com/credtrace/credtrace/courier"
)

const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// FuzzCheckUSCC: no input panics; an accepted code carries its own check character; and, 31
// being prime and every weight non-zero mod 31, changing any one character of an accepted code
// to another of the alphabet makes it refused.
func FuzzCheckUSCC(f *testing.F) {
	for _, s := range []string{"91130100MA0CX7Q2K6", "91110000802100433B", "91130100MA0CX7Q2K7", "", "9113", "91130100ma0cx7q2k6", "ＯＯＯＯＯＯＯＯＯ", "911301000000000000\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		why := courier.CheckUSCC(code)
		if why != "" {
			return
		}
		check, ok := courier.USCCCheck(code[:17])
		if len(code) != 18 || !ok || check != code[17] {
			t.Fatalf("%q accepted without its check character", code)
		}
		for i := 0; i < 17; i++ {
			for _, c := range []byte{usccAlphabet[(strings.IndexByte(usccAlphabet, code[i])+1)%31]} {
				changed := code[:i] + string(c) + code[i+1:]
				if courier.CheckUSCC(changed) == "" {
					t.Fatalf("%q accepted after changing character %d of %q", changed, i, code)
				}
			}
		}
	})
}

// FuzzCheckResidentID: the same for GB 11643 (mod 11, weights non-zero mod 11).
func FuzzCheckResidentID(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "110105194912310021", "11010519491231002x", "", "1101051949123100", "110105194902300028", "１１０１０５１９４９１２３１００２Ｘ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if courier.CheckResidentID(id) != "" {
			return
		}
		check, ok := courier.ResidentIDCheck(id[:17])
		if len(id) != 18 || !ok || check != id[17] {
			t.Fatalf("%q accepted without its check character", id)
		}
		for i := 0; i < 17; i++ {
			changed := id[:i] + string('0'+(id[i]-'0'+1)%10) + id[i+1:]
			if courier.CheckResidentID(changed) == "" {
				t.Fatalf("%q accepted after changing digit %d of %q", changed, i, id)
			}
		}
	})
}

// FuzzCursor: no cursor panics, a bad one is an error naming the cursor, and every id
// survives the round trip through an opaque cursor.
func FuzzCursor(f *testing.F) {
	for _, s := range []string{"", courier.EncodeCursor("01a2334b-bda2-7ca3-866d-219c4f11666e"), "djE6", "!!!", "djE6\x00", "v1:abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		if _, err := courier.DecodeCursor(c); err != nil && !strings.Contains(err.Error(), "cursor") {
			t.Fatalf("cursor %q: the error %v does not name the cursor", c, err)
		}
		if c == "" {
			return
		}
		if back, err := courier.DecodeCursor(courier.EncodeCursor(c)); err != nil || back != c {
			t.Fatalf("id %q: round trip gave %q, %v", c, back, err)
		}
	})
}
