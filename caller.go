package credtrace

// Role is what a caller may do, as its token says.
type Role string

// The roles. The public is the absence of a token.
const (
	RoleRegulator Role = "regulator"
	RoleFirm      Role = "firm"
	RoleMerchant  Role = "merchant"
	RolePlatform  Role = "platform"
	RoleStaff     Role = "staff" // a person's own view of their file
	// RoleMetrics reads the service's Prometheus metrics and nothing else.
	RoleMetrics Role = "metrics"
	RolePublic  Role = "public"
)

// Caller is who makes a call, as the API authenticated it: the role says what it may do, the
// ids say on what (its scope).
type Caller struct {
	TokenID    string
	Role       Role
	FirmID     string // firm callers: the root of the subtree they act for
	MerchantID string // merchant callers
	StaffID    string // staff callers: the person themselves
}

// Public is the anonymous caller.
var Public = Caller{Role: RolePublic}

// System is how credtrace's own jobs act (the scheduler's runs, back-tracking's proposals,
// audit checkpoints, migrations): with a regulator's rights, under the token id "system". It is
// never the caller of a request.
var System = Caller{TokenID: "system", Role: RoleRegulator}

// IsRegulator reports whether c acts for a regulator.
func (c Caller) IsRegulator() bool { return c.Role == RoleRegulator }

// IsFirm reports whether c acts for a firm's subtree.
func (c Caller) IsFirm() bool { return c.Role == RoleFirm }

// OneOf reports whether c's role is one of roles.
func (c Caller) OneOf(roles ...Role) bool {
	for _, r := range roles {
		if c.Role == r {
			return true
		}
	}
	return false
}
