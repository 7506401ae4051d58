package courier_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/credtrace/credtrace"
	"github.com/credtrace/credtrace/courier"
)

func TestCheckUSCC(t *testing.T) {
	tests := []struct {
		name string
		code string
		want string // substring of the reason; "" means valid
	}{
		{"valid Shijiazhuang code", "91130100MA0CX7Q2K6", ""},
		{"valid Beijing code", "91110000802100433B", ""},
		{"empty", "", "must be 18 characters"},
		{"17 characters", "91130100MA0CX7Q2K", "must be 18 characters"},
		{"19 characters", "91130100MA0CX7Q2K60", "must be 18 characters"},
		{"I is not in the alphabet", "91130100MI0CX7Q2K6", "character I is not in the GB 32100 alphabet"},
		{"O is not in the alphabet", "91130100MO0CX7Q2K6", "character O is not"},
		{"Z is not in the alphabet", "91130100MZ0CX7Q2K6", "character Z is not"},
		{"S is not in the alphabet", "91130100MS0CX7Q2K6", "character S is not"},
		{"V is not in the alphabet", "91130100MV0CX7Q2K6", "character V is not"},
		{"lower case is not upper-cased here", "91130100ma0cx7q2k6", "character m is not"},
		{"wrong check character", "91130100MA0CX7Q2K7", "check character mismatch"},
		{"check character outside the alphabet", "91130100MA0CX7Q2KI", "check character mismatch"},
		{"one body character changed", "91130100MA0CX7Q3K6", "check character mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := courier.CheckUSCC(tt.code)
			checkReason(t, got, tt.want)
		})
	}
}

func TestCheckResidentID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want string
	}{
		{"valid with X check", "11010519491231002X", ""},
		{"lower-case x is upper-cased by the service, not here", "11010519491231002x", "check digit mismatch"},
		{"wrong check digit", "110105194912310021", "check digit mismatch"},
		{"letter in the body", "1101051949123100AX", "first 17 characters must be digits"},
		{"15-digit old format", "110105491231002", "must be 18 characters"},
		{"empty", "", "must be 18 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := courier.CheckResidentID(tt.id)
			checkReason(t, got, tt.want)
			if tt.id != "" && strings.Contains(got, tt.id) {
				t.Errorf("reason %q repeats the number", got)
			}
		})
	}
}

func TestCheckPhone(t *testing.T) {
	tests := []struct {
		name  string
		phone string
		want  string
	}{
		{"mobile", "13800138000", ""},
		{"10 digits", "1380013800", "11-digit mobile number"},
		{"12 digits", "138001380001", "11-digit mobile number"},
		{"does not start with 1", "23800138000", "starting with 1"},
		{"international prefix", "+8613800138", "starting with 1"},
		{"letter", "1380013800a", "digits only"},
		{"empty", "", "11-digit mobile number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReason(t, courier.CheckPhone(tt.phone), tt.want)
		})
	}
}

func TestCheckRegion(t *testing.T) {
	tests := []struct {
		name   string
		region string
		want   string
	}{
		{"district of Shijiazhuang", "130102", ""},
		{"lowest province 11", "110000", ""},
		{"highest province 82 (Macao)", "820000", ""},
		{"five digits", "13010", "6-digit"},
		{"seven digits", "1301020", "6-digit"},
		{"letter", "13010a", "6-digit"},
		{"province below 11", "100000", "province part must be between 11 and 82"},
		{"province above 82", "830000", "province part must be between 11 and 82"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkReason(t, courier.CheckRegion(tt.region), tt.want)
		})
	}
}

// checkReason compares a Check* reason against want: "" means valid, else a substring.
func checkReason(t *testing.T, got, want string) {
	t.Helper()
	switch {
	case want == "" && got != "":
		t.Errorf("reason = %q, want valid", got)
	case want != "" && got == "":
		t.Errorf("reason = valid, want one containing %q", want)
	case want != "" && !strings.Contains(got, want):
		t.Errorf("reason = %q, want one containing %q", got, want)
	}
}

func TestMaskResidentID(t *testing.T) {
	tests := []struct {
		name, id, want string
	}{
		{"18 characters keep region and last four", "11010519491231002X", "110105********002X"},
		{"too short to keep anything", "123456789", "*********"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := courier.MaskResidentID(tt.id); got != tt.want {
				t.Errorf("MaskResidentID(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct {
		name, phone, want string
	}{
		{"mobile keeps first three and last four", "13800138000", "138****8000"},
		{"too short to keep anything", "123456", "******"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := courier.MaskPhone(tt.phone); got != tt.want {
				t.Errorf("MaskPhone(%q) = %q, want %q", tt.phone, got, tt.want)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	const id = "11010519491231002X"
	key := []byte("test-pii-key-0123456789abcdefghij")
	h := courier.NewHasher(key)
	base := h.Hash("resident_id", id)
	if len(base) != 43 || strings.ContainsAny(base, "+/=") {
		t.Fatalf("hash %q is not 43 base64url characters (256 bits)", base)
	}
	if strings.Contains(base, id) {
		t.Fatalf("hash %q carries the value", base)
	}

	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"same input same hash", courier.NewHasher(key).Hash("resident_id", id), true},
		{"lower case and spaces are normalised", h.Hash("resident_id", "  11010519491231002x \t"), true},
		{"different purpose different hash", h.Hash("phone", id), false},
		{"different key different hash", courier.NewHasher([]byte("another-key-0123456789abcdefghij")).Hash("resident_id", id), false},
		{"different value different hash", h.Hash("resident_id", "110105194912310029"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.got == base; got != tt.same {
				t.Errorf("hash equal to the base = %v, want %v", got, tt.same)
			}
		})
	}

	t.Run("key is copied", func(t *testing.T) {
		k := []byte("mutable-key-0123456789abcdefghijk")
		h := courier.NewHasher(k)
		before := h.Hash("resident_id", id)
		k[0] = 'X'
		if got := h.Hash("resident_id", id); got != before {
			t.Errorf("hash changed after the caller changed its key slice: %q, want %q", got, before)
		}
	})
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *courier.Policy)
		want   []string // offending fields; nil means valid
	}{
		{"default", func(*courier.Policy) {}, nil},
		{"upper bounds", func(p *courier.Policy) {
			p.PublicityMonths = map[courier.Severity]int{courier.SevMinor: 3, courier.SevGeneral: 12, courier.SevSerious: 36}
			p.RepairMonths = map[courier.Severity]int{courier.SevMinor: 3, courier.SevGeneral: 12, courier.SevSerious: 36}
		}, nil},
		{"lower bounds", func(p *courier.Policy) {
			p.PublicityMonths = map[courier.Severity]int{courier.SevMinor: 0, courier.SevGeneral: 3, courier.SevSerious: 12}
			p.RepairMonths = map[courier.Severity]int{courier.SevMinor: 0, courier.SevGeneral: 0, courier.SevSerious: 0}
		}, nil},
		{"minor publicity above 3", func(p *courier.Policy) { p.PublicityMonths[courier.SevMinor] = 4 }, []string{"publicity.minor"}},
		{"general publicity below 3", func(p *courier.Policy) {
			p.PublicityMonths[courier.SevGeneral] = 2
			p.RepairMonths[courier.SevGeneral] = 1
		}, []string{"publicity.general"}},
		{"serious publicity above 36", func(p *courier.Policy) { p.PublicityMonths[courier.SevSerious] = 37 }, []string{"publicity.serious"}},
		{"repair longer than publicity", func(p *courier.Policy) { p.RepairMonths[courier.SevGeneral] = 13 }, []string{"repair.general"}},
		{"negative repair", func(p *courier.Policy) { p.RepairMonths[courier.SevMinor] = -1 }, []string{"repair.minor"}},
		{"missing severity", func(p *courier.Policy) {
			delete(p.PublicityMonths, courier.SevSerious)
			delete(p.RepairMonths, courier.SevSerious)
		}, []string{"publicity.serious", "repair.serious"}},
		{"two problems at once", func(p *courier.Policy) {
			p.PublicityMonths[courier.SevMinor] = 6
			p.PublicityMonths[courier.SevSerious] = 48
		}, []string{"publicity.minor", "publicity.serious"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := courier.DefaultPolicy()
			tt.change(&p)
			err := p.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, credtrace.ErrInvalid) {
				t.Fatalf("Validate() = %v, want credtrace.ErrInvalid", err)
			}
			if got := fieldNames(err); !slices.Equal(got, tt.want) {
				t.Errorf("fields = %v, want %v (%v)", got, tt.want, err)
			}
		})
	}
}

// fieldNames returns the sorted field names of a *credtrace.Error, or nil.
func fieldNames(err error) []string {
	var ve *credtrace.Error
	if !errors.As(err, &ve) {
		return nil
	}
	var names []string
	for _, f := range ve.Fields {
		names = append(names, f.Field)
	}
	slices.Sort(names)
	return names
}

func TestObjectionOverdue(t *testing.T) {
	filed := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	decided := filed.AddDate(0, 0, 5)
	pending := courier.Objection{Status: courier.ObjectionPending, FiledAt: filed, ReviewBy: filed.AddDate(0, 0, courier.ReviewDays)}
	corrected := courier.Objection{Status: courier.ObjectionUpheld, FiledAt: filed, ReviewBy: pending.ReviewBy,
		DecidedAt: decided, CorrectBy: decided.AddDate(0, 0, courier.CorrectDays), CorrectedAt: decided}
	uncorrected := corrected
	uncorrected.CorrectedAt = time.Time{}

	tests := []struct {
		name string
		o    courier.Objection
		at   time.Time
		want bool
	}{
		{"pending inside the review clock", pending, filed.AddDate(0, 0, 9), false},
		{"pending at the review deadline", pending, pending.ReviewBy, false},
		{"pending after the review deadline", pending, filed.AddDate(0, 0, 11), true},
		{"decided and corrected, long after", corrected, filed.AddDate(1, 0, 0), false},
		{"decided, not corrected, inside the correction clock", uncorrected, decided.AddDate(0, 0, 9), false},
		{"decided, not corrected, after the correction clock", uncorrected, decided.AddDate(0, 0, 11), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Overdue(tt.at); got != tt.want {
				t.Errorf("Overdue(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestRecordPublic(t *testing.T) {
	confirmed := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	until := confirmed.AddDate(0, 12, 0)
	rec := func(s courier.RecordStatus) courier.Record {
		return courier.Record{Status: s, ConfirmedAt: confirmed, PublicUntil: until}
	}
	inside := confirmed.AddDate(0, 6, 0)
	tests := []struct {
		name string
		r    courier.Record
		at   time.Time
		want bool
	}{
		{"confirmed inside the window", rec(courier.StatusConfirmed), inside, true},
		{"confirmed at the end of the window", rec(courier.StatusConfirmed), until, false},
		{"confirmed after the window", rec(courier.StatusConfirmed), until.Add(time.Millisecond), false},
		{"disputed inside the window", rec(courier.StatusDisputed), inside, true},
		{"upheld inside the window", rec(courier.StatusUpheld), inside, true},
		{"pending", courier.Record{Status: courier.StatusPending}, inside, false},
		{"dismissed", rec(courier.StatusDismissed), inside, false},
		{"revoked", rec(courier.StatusRevoked), inside, false},
		{"repaired", rec(courier.StatusRepaired), inside, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.Public(tt.at); got != tt.want {
				t.Errorf("Public(%s) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestStaffEmployerAt(t *testing.T) {
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mar := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	may := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	moved := courier.Staff{Employment: []courier.Employment{
		{FirmID: "A", From: jan, To: mar},
		{FirmID: "B", From: mar},
	}}
	left := courier.Staff{Employment: []courier.Employment{{FirmID: "A", From: jan, To: mar}}}

	tests := []struct {
		name string
		s    courier.Staff
		at   time.Time
		want string
	}{
		{"before the first employment", moved, jan.Add(-time.Hour), ""},
		{"at the start of the first", moved, jan, "A"},
		{"during the first", moved, jan.AddDate(0, 1, 0), "A"},
		{"at the change", moved, mar, "B"},
		{"during the open one", moved, may, "B"},
		{"after leaving", left, may, ""},
		{"never employed", courier.Staff{}, may, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.EmployerAt(tt.at); got != tt.want {
				t.Errorf("EmployerAt(%s) = %q, want %q", tt.at, got, tt.want)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	t.Run("round trip", func(t *testing.T) {
		for _, id := range []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "x", "v1:nested", "顺达"} {
			c := courier.EncodeCursor(id)
			if strings.Contains(c, id) {
				t.Errorf("cursor %q shows the id in clear", c)
			}
			got, err := courier.DecodeCursor(c)
			if err != nil {
				t.Fatalf("DecodeCursor(%q): %v", c, err)
			}
			if got != id {
				t.Errorf("DecodeCursor(EncodeCursor(%q)) = %q", id, got)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		if got := courier.EncodeCursor(""); got != "" {
			t.Errorf("EncodeCursor(\"\") = %q, want \"\"", got)
		}
		got, err := courier.DecodeCursor("")
		if err != nil || got != "" {
			t.Errorf("DecodeCursor(\"\") = %q, %v; want \"\", nil", got, err)
		}
	})

	malformed := []struct {
		name, cursor string
	}{
		{"not base64", "!!not-base64!!"},
		{"padded standard base64", base64.StdEncoding.EncodeToString([]byte("v1:ab"))},
		{"wrong version", base64.RawURLEncoding.EncodeToString([]byte("v2:abc"))},
		{"no prefix", base64.RawURLEncoding.EncodeToString([]byte("abc"))},
	}
	for _, tt := range malformed {
		t.Run("malformed "+tt.name, func(t *testing.T) {
			_, err := courier.DecodeCursor(tt.cursor)
			if !errors.Is(err, credtrace.ErrInvalid) {
				t.Fatalf("DecodeCursor(%q) = %v, want credtrace.ErrInvalid", tt.cursor, err)
			}
			if got, want := fieldNames(err), []string{"cursor"}; !slices.Equal(got, want) {
				t.Errorf("fields = %v, want %v", got, want)
			}
		})
	}
}

func TestCheckGLN(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, gln string
		site      bool
		want      string // a part of the reason; "" for valid
	}{
		{"valid", "0614141007776", false, ""},
		{"none", "", false, ""},
		{"check digit", "0614141007775", false, "check digit"},
		{"too short", "061414100777", false, "13 digits"},
		{"letters", "061414100777A", false, "13 digits"},
		{"a site's extension", "0614141007776.dock-3", true, ""},
		{"a firm has no extension", "0614141007776.1", false, "no extension"},
		{"an empty extension", "0614141007776.", true, "extension"},
		{"an extension with a space", "0614141007776.a b", true, "extension"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := courier.CheckGLN(c.gln, c.site)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("CheckGLN(%q, %v) = %q, want a reason naming %q", c.gln, c.site, got, c.want)
			}
		})
	}
}
