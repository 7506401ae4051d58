// Package courier is the credit archive of courier firms, their sites and their staff: the
// franchise tree, the seven record categories with their lifecycle, objections and credit repair
// with their statutory clocks, credit commitments, access tokens and the tamper-evident audit trail.
//
// It holds the types, the rules (Service) and the Store it needs; it imports no driver and no
// HTTP framework.
package courier

import "github.com/credtrace/credtrace"

// ErrLocked means too many wrong answers were given; the check is refused for a while.
var ErrLocked = &credtrace.Error{Kind: credtrace.Locked, Msg: "too many wrong answers; try again later"}

// stateErr explains a refused transition: a credtrace.State error whose message is the reason.
func stateErr(format string, args ...any) error { return credtrace.E(credtrace.State, format, args...) }
